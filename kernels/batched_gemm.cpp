// Batched GEMM on the CPU: kernels/gemm.h's GEMM (AVX-512 or Eigen) for each product in turn.
#include "kernels/batched_gemm.h"

#include "base/error.h"
#include "kernels/gemm.h"

namespace i2v::cpu {

template <typename T>
void batched_gemm(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                  int64_t stride_c) {
  I2V_CHECK(stride_c != 0 || batch <= 1, "batched_gemm: {} products into one C", batch);
  for (int64_t i = 0; i < batch; ++i)
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
}

#define I2V_INSTANTIATE(T)                                                                                         \
  template void batched_gemm<T>(bool, bool, int64_t, int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t,    \
                                const T*, int64_t, int64_t, T, T*, int64_t, int64_t);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
