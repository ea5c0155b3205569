#include "kernels/axpy.h"

namespace i2v::cpu {

template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template void axpy<float>(int64_t, float, const float*, float*);
template void axpy<double>(int64_t, double, const double*, double*);

}  // namespace i2v::cpu
