// CPU GEMM: the packed AVX-512 kernel for float when the CPU has AVX-512, Eigen's blocked,
// vectorised and OpenMP-parallel product otherwise (and always for double).
#include <type_traits>

#include <Eigen/Core>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace i2v::cpu {

template <typename T>
void gemm_eigen(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstView = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  using View = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (m == 0 || n == 0) return;
  View out(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == T(0)) out.setZero(); else out *= beta;
    return;
  }
  ConstView a_stored(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstView b_stored(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  auto multiply = [&](const auto& op_a, const auto& op_b) {
    if (beta == T(0)) {
      out.noalias() = alpha * (op_a * op_b);
    } else {
      out *= beta;
      out.noalias() += alpha * (op_a * op_b);
    }
  };
  if (trans_a && trans_b) multiply(a_stored.transpose(), b_stored.transpose());
  else if (trans_a) multiply(a_stored.transpose(), b_stored);
  else if (trans_b) multiply(a_stored, b_stored.transpose());
  else multiply(a_stored, b_stored);
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_has_avx512f()) return gemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  gemm_eigen(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#define I2V_INSTANTIATE_GEMM(T)                                                                                \
  template void gemm_eigen<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                              T*, int64_t);                                                                    \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,   \
                        int64_t);
I2V_INSTANTIATE_GEMM(float)
I2V_INSTANTIATE_GEMM(double)
#undef I2V_INSTANTIATE_GEMM

}  // namespace i2v::cpu
