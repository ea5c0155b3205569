#include "kernels/activation.h"

namespace i2v::cpu {

void relu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = relu(x[i]);
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) dx[i] = relu_grad(x[i], dy[i]);
}

}  // namespace i2v::cpu
