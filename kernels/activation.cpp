#include "kernels/activation.h"

namespace i2v::cpu {

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = relu(x[i]);
}

template <typename T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) dx[i] = relu_grad(x[i], dy[i]);
}

template void relu_forward<float>(const float*, float*, int64_t);
template void relu_forward<double>(const double*, double*, int64_t);
template void relu_backward<float>(const float*, const float*, float*, int64_t);
template void relu_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace i2v::cpu
