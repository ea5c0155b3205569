// GEMM on the GPU (contract: kernels/gemm.h): shared-memory tiled kernels with register blocking.
//
// gemm_tile_64x64x16 (v1): a block of 256 threads computes a 64×64 tile of C; each thread owns a
//   4×4 grid of outputs strided by 16 rows and 16 columns. The k dimension advances in slices of
//   16: the block stages a 64×16 slice of op(A) and a 16×64 slice of op(B) in shared memory
//   (k-major whatever the transposes), waits, then every thread does 4×4×16 FMAs from registers.
// gemm_tile_128x128x8 (v2) changes three things: a 128×128 tile with 8×8 outputs per thread
//   (twice the FMAs per shared-memory load: 64 FMAs per 16 loaded floats, against 16 per 8), the
//   fragments read as float4 from shared memory, and double buffering: the next slice is loaded
//   from global memory into registers while the current one is multiplied, so one barrier per
//   slice and the global latency is hidden behind the FMAs.
// Both load global memory coalesced whatever the transposes (consecutive threads read
// consecutive addresses of the stored matrix), zero-fill the slices past the matrix edges and
// mask the stores, so any m, n, k works.
// In fp32 (kernels/precision.h), gemm() picks v2 when its grid has at least kWideGrid tiles
// (enough to fill an H100's 132 SMs), v1 otherwise (small products: more, smaller blocks); in
// tf32 and bf16 it runs the tensor-core kernel (kernels/gemm_tensor_core.cu).
//
// Roofline (H100 SXM: 67 TFLOP/s fp32 without tensor cores, 3.35 TB/s HBM, ridge ≈ 20 FLOP/B):
//   v1 per slice: 2·64·64·16 = 131 kFLOP for (64+64)·16·4 B = 8 KiB loaded: 16 FLOP/B;
//   v2 per slice: 2·128·128·8 = 262 kFLOP for (128+128)·8·4 B = 8 KiB loaded: 32 FLOP/B.
// Most of those loads hit L2 (each slice of A is read by every block of its tile row), so both
// are compute-bound; v2 issues fewer shared-memory loads per FMA (0.25 against 0.5) and should
// reach 50-70% of the fp32 peak on large products (m, n, k ≥ 1024), v1 about half that.
// A VGG conv3_2 forward GEMM (256×3136×2304 per image, 3.7 GFLOP: 50 tiles of 128×128, so v1
// runs it) then takes ~0.1-0.2 ms.
#include "kernels/gemm.h"
#include "kernels/gpu.cuh"
#include "kernels/precision.h"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kThreadsX = 16, kThreadsY = 16, kThreads = kThreadsX * kThreadsY;
constexpr int64_t kWideGrid = 128;

// Element (row, col) of op(X), where op(X) is rows×cols and X is stored row-major with
// leading dimension ld, transposed when `trans`; 0 outside op(X).
I2V_HD float load_op(const float* x, bool trans, int64_t row, int64_t col, int64_t rows, int64_t cols, int64_t ld) {
  if (row >= rows || col >= cols) return 0.0f;
  return trans ? x[col * ld + row] : x[row * ld + col];
}

// The e-th element a block loads of a tile_rows×depth slice of op(X), as (row, k) offsets
// within the slice: consecutive e walk along the stored matrix's rows so that consecutive
// threads read consecutive addresses.
I2V_HD void slice_element(int e, bool stored_k_major, int tile_rows, int depth, int& row, int& k) {
  if (stored_k_major) {  // op(X)[row][k] = X[k][row]: rows are contiguous
    row = e % tile_rows;
    k = e / tile_rows;
  } else {  // op(X)[row][k] = X[row][k]: k is contiguous
    k = e % depth;
    row = e / depth;
  }
}

// out = alpha · acc + beta · out, skipping the read of out when beta == 0.
I2V_HD void store_scaled(float* out, float acc, float alpha, float beta) {
  *out = beta == 0.0f ? alpha * acc : alpha * acc + beta * *out;
}

// ---- v1 --------------------------------------------------------------------------------------

constexpr int kTile1 = 64, kDepth1 = 16, kPerThread1 = 4;
constexpr int kPad1 = 1;  // the staging stores of a row-major operand hit 16 banks, not 1

__global__ void gemm_tile_64x64x16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                                   int64_t ldc) {
  __shared__ float a_tile[kDepth1][kTile1 + kPad1];
  __shared__ float b_tile[kDepth1][kTile1 + kPad1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int thread = ty * kThreadsX + tx;
  const int64_t row0 = int64_t(blockIdx.y) * kTile1, col0 = int64_t(blockIdx.x) * kTile1;

  float acc[kPerThread1][kPerThread1] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kDepth1) {
    for (int e = thread; e < kTile1 * kDepth1; e += kThreads) {
      int r, kk;
      slice_element(e, trans_a, kTile1, kDepth1, r, kk);
      a_tile[kk][r] = load_op(a, trans_a, row0 + r, k0 + kk, m, k, lda);
      slice_element(e, !trans_b, kTile1, kDepth1, r, kk);  // op(B)ᵀ is stored k-major unless trans_b
      b_tile[kk][r] = load_op(b, !trans_b, col0 + r, k0 + kk, n, k, ldb);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kDepth1; ++kk) {
      float a_frag[kPerThread1], b_frag[kPerThread1];
#pragma unroll
      for (int i = 0; i < kPerThread1; ++i) a_frag[i] = a_tile[kk][ty + i * kThreadsY];
#pragma unroll
      for (int j = 0; j < kPerThread1; ++j) b_frag[j] = b_tile[kk][tx + j * kThreadsX];
#pragma unroll
      for (int i = 0; i < kPerThread1; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread1; ++j) acc[i][j] += a_frag[i] * b_frag[j];
    }
    __syncthreads();  // before the next slice overwrites the tiles
  }
  for (int i = 0; i < kPerThread1; ++i) {
    const int64_t row = row0 + ty + i * kThreadsY;
    if (row >= m) continue;
    for (int j = 0; j < kPerThread1; ++j) {
      const int64_t col = col0 + tx + j * kThreadsX;
      if (col < n) store_scaled(c + row * ldc + col, acc[i][j], alpha, beta);
    }
  }
}

// ---- v2 --------------------------------------------------------------------------------------

constexpr int kTile2 = 128, kDepth2 = 8, kPerThread2 = 8;
constexpr int kPad2 = 4;  // staging stores conflict-free, rows still 16-byte aligned for float4
constexpr int kLoads2 = kTile2 * kDepth2 / kThreads;  // elements of each operand a thread loads per slice

// Loads this thread's share of the slice of op(A) and op(B) at depth k0 into registers.
I2V_HD void load_slice_128x8(int thread, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t row0,
                             int64_t col0, int64_t k0, const float* a, int64_t lda, const float* b, int64_t ldb,
                             float a_regs[kLoads2], float b_regs[kLoads2]) {
  for (int l = 0; l < kLoads2; ++l) {
    int r, kk;
    slice_element(thread + l * kThreads, trans_a, kTile2, kDepth2, r, kk);
    a_regs[l] = load_op(a, trans_a, row0 + r, k0 + kk, m, k, lda);
    slice_element(thread + l * kThreads, !trans_b, kTile2, kDepth2, r, kk);
    b_regs[l] = load_op(b, !trans_b, col0 + r, k0 + kk, n, k, ldb);
  }
}

__global__ void gemm_tile_128x128x8(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                                    int64_t ldc) {
  __align__(16) __shared__ float a_tile[2][kDepth2][kTile2 + kPad2];
  __align__(16) __shared__ float b_tile[2][kDepth2][kTile2 + kPad2];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int thread = ty * kThreadsX + tx;
  const int64_t row0 = int64_t(blockIdx.y) * kTile2, col0 = int64_t(blockIdx.x) * kTile2;

  // This thread's outputs: rows ty·4 + {0..3} and 64 + ty·4 + {0..3}, columns likewise with tx,
  // so its fragments are two float4 reads of shared memory per operand.
  float acc[kPerThread2][kPerThread2] = {};
  float a_regs[kLoads2], b_regs[kLoads2];
  auto stage = [&](int buffer) {
    for (int l = 0; l < kLoads2; ++l) {
      int r, kk;
      slice_element(thread + l * kThreads, trans_a, kTile2, kDepth2, r, kk);
      a_tile[buffer][kk][r] = a_regs[l];
      slice_element(thread + l * kThreads, !trans_b, kTile2, kDepth2, r, kk);
      b_tile[buffer][kk][r] = b_regs[l];
    }
  };
  load_slice_128x8(thread, trans_a, trans_b, m, n, k, row0, col0, 0, a, lda, b, ldb, a_regs, b_regs);
  stage(0);
  __syncthreads();
  int buffer = 0;
  for (int64_t k0 = 0; k0 < k; k0 += kDepth2) {
    const bool more = k0 + kDepth2 < k;
    if (more)
      load_slice_128x8(thread, trans_a, trans_b, m, n, k, row0, col0, k0 + kDepth2, a, lda, b, ldb, a_regs, b_regs);
#pragma unroll
    for (int kk = 0; kk < kDepth2; ++kk) {
      float a_frag[kPerThread2], b_frag[kPerThread2];
      const float4 a_lo = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][64 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][64 + tx * 4]);
      a_frag[0] = a_lo.x, a_frag[1] = a_lo.y, a_frag[2] = a_lo.z, a_frag[3] = a_lo.w;
      a_frag[4] = a_hi.x, a_frag[5] = a_hi.y, a_frag[6] = a_hi.z, a_frag[7] = a_hi.w;
      b_frag[0] = b_lo.x, b_frag[1] = b_lo.y, b_frag[2] = b_lo.z, b_frag[3] = b_lo.w;
      b_frag[4] = b_hi.x, b_frag[5] = b_hi.y, b_frag[6] = b_hi.z, b_frag[7] = b_hi.w;
#pragma unroll
      for (int i = 0; i < kPerThread2; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread2; ++j) acc[i][j] += a_frag[i] * b_frag[j];
    }
    if (more) {
      // The other buffer was last read before the previous barrier: safe to overwrite.
      stage(buffer ^ 1);
      __syncthreads();
      buffer ^= 1;
    }
  }
  for (int i = 0; i < kPerThread2; ++i) {
    const int64_t row = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    if (row >= m) continue;
    for (int j = 0; j < kPerThread2; ++j) {
      const int64_t col = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
      if (col < n) store_scaled(c + row * ldc + col, acc[i][j], alpha, beta);
    }
  }
}

dim3 tile_grid(int64_t m, int64_t n, int tile) {
  return dim3(unsigned((n + tile - 1) / tile), unsigned((m + tile - 1) / tile));
}

}  // namespace

void gemm_64x64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  I2V_LAUNCH(gemm_tile_64x64x16, tile_grid(m, n, kTile1), dim3(kThreadsX, kThreadsY), 0, 0, trans_a, trans_b, m, n,
             k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_128x128(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  I2V_LAUNCH(gemm_tile_128x128x8, tile_grid(m, n, kTile2), dim3(kThreadsX, kThreadsY), 0, 0, trans_a, trans_b, m,
             n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (const Precision precision = matmul_precision(); precision != Precision::fp32)
    return gemm_tensor_core(precision, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const int64_t wide_tiles = ((m + kTile2 - 1) / kTile2) * ((n + kTile2 - 1) / kTile2);
  if (wide_tiles >= kWideGrid) gemm_128x128(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else gemm_64x64(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace i2v::I2V_GPU_NS
