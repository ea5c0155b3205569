// GEMM on the GPU (see gemm.h): a shared-memory tiled kernel with register blocking.
//
// Each block computes a 64×64 tile of C with 256 threads; each thread owns a 4×4 grid of
// outputs strided by 16 rows and 16 columns, so neighbouring threads write neighbouring
// columns (coalesced stores) and read neighbouring shared-memory words (no bank conflicts).
// The k dimension advances in slices of 16: the block stages a 64×16 slice of op(A) and a
// 16×64 slice of op(B) in shared memory (stored k-major whatever the transposes), waits, then
// every thread does 4×4×16 FMAs from registers.
//
// Roofline per tile step: 2·64·64·16 = 131 kFLOP for (64+64)·16·4 = 8 KiB loaded from global
// memory, 16 FLOP/byte: compute-bound on a modern GPU (an H100 needs ~20 FLOP/byte from HBM,
// much less from L2). Sizes that are not multiples of the tile are handled by zero-filling the
// staged slices and masking the stores.
#include "kernels/gemm.h"
#include "kernels/gpu.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadsX = 16, kThreadsY = 16;  // 256 threads, each 4×4 outputs
constexpr int kPerThread = 4;

// Element (row, col) of op(X), where op(X) is rows×cols and X is stored row-major with
// leading dimension ld, transposed when `trans`.
I2V_HD float load_op(const float* x, bool trans, int64_t row, int64_t col, int64_t ld) {
  return trans ? x[col * ld + row] : x[row * ld + col];
}

__global__ void gemm_tile_64x64x16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                   float alpha, const float* a, int64_t lda, const float* b,
                                   int64_t ldb, float beta, float* c, int64_t ldc) {
  __shared__ float a_tile[kTileK][kTileM];
  __shared__ float b_tile[kTileK][kTileN];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int thread = ty * kThreadsX + tx;
  const int64_t row0 = int64_t(blockIdx.y) * kTileM, col0 = int64_t(blockIdx.x) * kTileN;

  float acc[kPerThread][kPerThread] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    // Stage the slices: 1024 elements each, 4 per thread.
    for (int e = thread; e < kTileM * kTileK; e += kThreadsX * kThreadsY) {
      const int kk = e / kTileM, mm = e % kTileM;
      const int64_t row = row0 + mm, kcol = k0 + kk;
      a_tile[kk][mm] = (row < m && kcol < k) ? load_op(a, trans_a, row, kcol, lda) : 0.0f;
    }
    for (int e = thread; e < kTileN * kTileK; e += kThreadsX * kThreadsY) {
      const int kk = e / kTileN, nn = e % kTileN;
      const int64_t krow = k0 + kk, col = col0 + nn;
      b_tile[kk][nn] = (krow < k && col < n) ? load_op(b, trans_b, krow, col, ldb) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a_frag[kPerThread], b_frag[kPerThread];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i) a_frag[i] = a_tile[kk][ty + i * kThreadsY];
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) b_frag[j] = b_tile[kk][tx + j * kThreadsX];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) acc[i][j] += a_frag[i] * b_frag[j];
    }
    __syncthreads();  // before the next slice overwrites the tiles
  }
  for (int i = 0; i < kPerThread; ++i) {
    const int64_t row = row0 + ty + i * kThreadsY;
    if (row >= m) continue;
    for (int j = 0; j < kPerThread; ++j) {
      const int64_t col = col0 + tx + j * kThreadsX;
      if (col >= n) continue;
      float* out = c + row * ldc + col;
      *out = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *out;
    }
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const dim3 grid(unsigned((n + kTileN - 1) / kTileN), unsigned((m + kTileM - 1) / kTileM));
  I2V_LAUNCH(gemm_tile_64x64x16, grid, dim3(kThreadsX, kThreadsY), 0, 0, trans_a, trans_b, m, n, k,
             alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace i2v::I2V_GPU_NS
