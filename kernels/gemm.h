// General matrix multiply, row-major:  C = alpha · op(A) · op(B) + beta · C
//   op(A) is m×k: A is stored m×k (row stride lda ≥ k), or k×m when trans_a (lda ≥ m);
//   op(B) is k×n: B is stored k×n (ldb ≥ n), or n×k when trans_b (ldb ≥ k);
//   C is m×n with row stride ldc ≥ n. When beta == 0, C is not read (it may hold NaN).
// The core of Linear and of convolution (as weights · im2col).
//
// CPU: float runs the packed AVX-512 GEMM (kernels/gemm_avx512.cpp) when the CPU has AVX-512,
// Eigen's otherwise; double (the gradient checker's reference) runs Eigen's.
// GPU: on tensor cores (kernels/gemm_tensor_core.cu) when the matrix products are tf32 or bf16
// (kernels/precision.h), else shared-memory tiled fp32 kernels with register blocking
// (kernels/gemm.cu).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/precision.h"

I2V_DECLARE_FLOATING_KERNEL(void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, scalar_t alpha,
                                      const scalar_t* a, int64_t lda, const scalar_t* b, int64_t ldb,
                                      scalar_t beta, scalar_t* c, int64_t ldc))

namespace i2v::cpu {

// The two CPU implementations behind cpu::gemm, named so tests and benchmarks can run each.
// Same contract as gemm above.
template <typename scalar_t>
void gemm_eigen(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, scalar_t alpha, const scalar_t* a,
                int64_t lda, const scalar_t* b, int64_t ldb, scalar_t beta, scalar_t* c, int64_t ldc);
// Requires cpu_has_avx512f() (kernels/cpu_features.h).
void gemm_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace i2v::cpu

// The GPU variants behind gemm (kernels/gemm.cu picks one by precision and size), named so tests
// and benchmarks can run each. Same contract as gemm.
I2V_DECLARE_GPU(
    // precision: tf32 or bf16.
    void gemm_tensor_core(Precision precision, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                          int64_t ldc);
    void gemm_64x64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
    void gemm_128x128(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);)
