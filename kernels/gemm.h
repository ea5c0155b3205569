// General matrix multiply, row-major:  C = alpha · op(A) · op(B) + beta · C
//   op(A) is m×k: A is stored m×k (row stride lda ≥ k), or k×m when trans_a (lda ≥ m);
//   op(B) is k×n: B is stored k×n (ldb ≥ n), or n×k when trans_b (ldb ≥ k);
//   C is m×n with row stride ldc ≥ n. When beta == 0, C is not read (it may hold NaN).
// The core of Linear and of convolution (as weights · im2col).
//
// CPU: float runs the packed AVX-512 GEMM (kernels/gemm_avx512.cpp) when the CPU has AVX-512,
// Eigen's otherwise, in the arithmetic that cpu_arithmetic() below picks from the matrix
// products' precision (kernels/precision.h); double (the gradient checker's reference) runs
// Eigen's, always in double.
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

// How the CPU computes a float product, decided here once for the GEMMs and the fused
// convolutions (kernels/conv_avx512.h) from matmul_precision() and the CPU's features:
//   fp32          at fp32 and tf32 (the CPU has no TF32): fp32 operands, FMAs, fp32 sums;
//   bf16_pairs    at bf16 on a CPU whose vdpbf16ps (AVX-512 BF16) outruns its fp32 FMAs: both
//                 operands rounded to bfloat16 while
//                 they are packed (to_bf16, kernels/tensor_core_fragments.h: to nearest, ties to
//                 even; NaN stays NaN), two consecutive depth steps in each 32-bit element, and
//                 vdpbf16ps adds both products to the fp32 sum: half the bytes of packed panels,
//                 twice the FLOPs of an FMA per instruction. The instruction reads bf16 below 2⁻¹²⁶
//                 (subnormals) as zero and flushes sums below it to zero;
//   bf16_rounded  at bf16 elsewhere: the same rounded operands, summed by the fp32 kernel (packed
//                 and rounded on AVX-512; rounded copies for Eigen): bf16's numbers, fp32's speed.
//   bf16_amx      at bf16 on a CPU with AMX-BF16 (Intel Sapphire Rapids on): the bf16_pairs
//                 panels (A's rows of pairs, as tiles take them, depth padded to whole tiles with
//                 zero pairs), multiplied on the tiles: TDPBF16PS adds an 8×32 A tile times a
//                 32×16 B tile into 8×16 fp32 sums, 8192 products an instruction (measured here:
//                 ~1.6 TFLOP/s a core with the tile loads, against 240 GFLOP/s of fp32 FMAs).
// Whether vdpbf16ps outruns the FMAs is measured once per process (cpu_dpbf16_outruns_fma): each
// does twice an FMA's FLOPs, but cores differ in how often they issue it. AMD Zen 4 issues one
// per cycle as it does one FMA (bf16 twice fp32's FLOP rate); Intel's Sapphire and Emerald Rapids
// one every other cycle against two FMAs per cycle (half of fp32's rate: bf16_pairs made a
// training step 1.6x slower than fp32 there), so they take bf16_rounded.
// Products are exact either way (8-bit significands), sums fp32: a bf16 result differs from the
// product of the rounded operands in double by fp32 summation error alone.
enum class CpuArithmetic { fp32, bf16_pairs, bf16_rounded, bf16_amx };
CpuArithmetic cpu_arithmetic();

// True when the CPU has AVX-512 BF16 and one core's vdpbf16ps FLOP rate is at least 1.25x its
// fp32 FMA rate (kernels/cpu_peak.h, single thread, best of 5 short trials each: ~2 ms, once).
// The known cores are 2x on either side of 1, so the choice does not flicker between runs.
bool cpu_dpbf16_outruns_fma();

// For tests and benchmarks: while a Bf16KernelScope lives, bf16 takes the given kernel, which the
// CPU must have, whatever cpu_arithmetic() would pick (not from inside a parallel region).
class Bf16KernelScope {
 public:
  explicit Bf16KernelScope(CpuArithmetic kernel);
  ~Bf16KernelScope();
  Bf16KernelScope(const Bf16KernelScope&) = delete;
  Bf16KernelScope& operator=(const Bf16KernelScope&) = delete;

 private:
  int previous_;
};
const char* cpu_arithmetic_name(CpuArithmetic arithmetic);

// The two CPU implementations behind cpu::gemm, named so tests and benchmarks can run each.
// Same contract as gemm above; gemm_avx512 computes in cpu_arithmetic(), gemm_eigen in fp32.
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
