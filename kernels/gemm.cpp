// CPU GEMM: the packed AVX-512 kernel for float when the CPU has AVX-512, Eigen's blocked,
// vectorised and OpenMP-parallel product otherwise (and always for double); and the one place
// that decides the CPU's arithmetic (cpu_arithmetic).
#include <atomic>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "kernels/cpu_features.h"
#include "kernels/cpu_peak.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "kernels/tensor_core_fragments.h"

namespace i2v::cpu {

namespace {

// The kernel a Bf16KernelScope forces (a CpuArithmetic), or -1: measured.
std::atomic<int> g_forced_bf16_kernel{-1};

}  // namespace

bool cpu_dpbf16_outruns_fma() {
  static const bool outruns = [] {
    if (!cpu_has_avx512_bf16()) return false;
    const long iterations = 50'000;  // 1.2 M instructions a trial: well under a millisecond
    const double fma = measure_fma_peak(1, 5, iterations).gflops;
    const double dpbf16 = measure_dpbf16_peak(1, 5, iterations).gflops;
    return dpbf16 >= 1.25 * fma;
  }();
  return outruns && cpu_has_avx512_bf16();
}

Bf16KernelScope::Bf16KernelScope(CpuArithmetic kernel) : previous_(g_forced_bf16_kernel.exchange(int(kernel))) {}

Bf16KernelScope::~Bf16KernelScope() { g_forced_bf16_kernel.store(previous_); }

CpuArithmetic cpu_arithmetic() {
  if (matmul_precision() != Precision::bf16) return CpuArithmetic::fp32;
  const int forced = g_forced_bf16_kernel.load(std::memory_order_relaxed);
  if (forced >= 0) return CpuArithmetic(forced);
  if (cpu_has_amx_bf16()) return CpuArithmetic::bf16_amx;
  return cpu_dpbf16_outruns_fma() ? CpuArithmetic::bf16_pairs : CpuArithmetic::bf16_rounded;
}

const char* cpu_arithmetic_name(CpuArithmetic arithmetic) {
  switch (arithmetic) {
    case CpuArithmetic::fp32: return "fp32";
    case CpuArithmetic::bf16_pairs: return "bf16 (vdpbf16ps)";
    case CpuArithmetic::bf16_rounded: return "bf16 (rounded operands, fp32 FMA)";
    case CpuArithmetic::bf16_amx: return "bf16 (AMX tiles)";
  }
  return "?";
}

namespace {

// A stored rows × cols matrix (row stride ld) with every element rounded to bf16, contiguous.
std::vector<float> bf16_rounded_copy(const float* x, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> copy(size_t(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) copy[size_t(i * cols + j)] = bf16_value(to_bf16(x[i * ld + j]));
  return copy;
}

}  // namespace

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
    if (cpu_arithmetic() != CpuArithmetic::fp32 && m > 0 && n > 0 && k > 0) {
      // Eigen packs internally, out of reach: it multiplies rounded copies of the operands.
      const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
      const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
      const std::vector<float> ra = bf16_rounded_copy(a, a_rows, a_cols, lda);
      const std::vector<float> rb = bf16_rounded_copy(b, b_rows, b_cols, ldb);
      return gemm_eigen(trans_a, trans_b, m, n, k, alpha, ra.data(), a_cols, rb.data(), b_cols, beta, c, ldc);
    }
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
