// The one double-precision reference every GEMM test compares with (the fp32 kernels of each
// device, the CPU's bf16 path, the tensor-core kernels): C = alpha op(A) op(B) + beta C0 summed
// in double from the operands as the kernel under test sees them (rounded to bf16 or tf32 by the
// caller where the kernel rounds them), so that what is left is fp32 summation in another order.
#pragma once

#include <cstdint>
#include <vector>

namespace i2v::test {

// A GEMM's shape, scalars and leading dimensions (row-major, as kernels/gemm.h).
struct GemmProblem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha, beta;
  int64_t lda, ldb, ldc;
};

// How far an fp32 sum of `terms` products, in any order, may be from its exact value: a few
// roundings of the sum of the terms' magnitudes.
double fp32_sum_tolerance(int64_t terms, double magnitude);

// Fails (at most 5 reports) where the kernel's C (`c`, from `c0`) differs from the reference by
// more than fp32_sum_tolerance, or where it wrote the padding of C beyond column n (with
// beta = 0, c0 may be NaN: it must not be read).
void expect_gemm_matches_reference(const GemmProblem& g, const std::vector<float>& a, const std::vector<float>& b,
                                   const std::vector<float>& c0, const std::vector<float>& c);
// The same for `samples` elements of C drawn from `seed`: for products too large for the double
// loop over every element.
void expect_gemm_samples_match_reference(const GemmProblem& g, const std::vector<float>& a,
                                         const std::vector<float>& b, const std::vector<float>& c0,
                                         const std::vector<float>& c, int samples, uint64_t seed);

}  // namespace i2v::test
