// Batched matrix multiply, row-major: for every b in [0, batch),
//
//   C_b = alpha · op(A_b) · op(B_b) + beta · C_b,    X_b = x + b · stride_x  (in elements)
//
// with op(), the leading dimensions and beta == 0 (C not read) as kernels/gemm.h. A stride of 0
// gives every product the same matrix (the GCN head's learned adjacency, shared by the batch);
// stride_c is not 0 unless batch is 1 (every product writes its own C).
//
// The products of the GCN head (nn/layers/semantic_attention.h, graph_propagation.h): the
// category representations X_n · M_nᵀ, the graph steps A · V_n and their gradients — many small
// products (C ≈ 100 nodes, D ≈ 512–2048 features) that one launch covers.
//
// CPU: kernels/gemm.h's GEMM per product. CUDA: one launch for the whole batch
// (kernels/batched_gemm.cu).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

I2V_DECLARE_FLOATING_KERNEL(void batched_gemm(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n,
                                              int64_t k, scalar_t alpha, const scalar_t* a, int64_t lda,
                                              int64_t stride_a, const scalar_t* b, int64_t ldb, int64_t stride_b,
                                              scalar_t beta, scalar_t* c, int64_t ldc, int64_t stride_c))
