// General matrix multiply, row-major:  C = alpha · op(A) · op(B) + beta · C
//   op(A) is m×k: A is stored m×k (row stride lda ≥ k), or k×m when trans_a (lda ≥ m);
//   op(B) is k×n: B is stored k×n (ldb ≥ n), or n×k when trans_b (ldb ≥ k);
//   C is m×n with row stride ldc ≥ n. When beta == 0, C is not read (it may hold NaN).
// The core of Linear and of convolution (as im2col · weights).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

I2V_DECLARE_KERNELS(
    void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);)
