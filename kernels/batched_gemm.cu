// Batched GEMM on the GPU (contract: kernels/batched_gemm.h): one launch for the whole batch.
//
// batched_gemm_tile16: a block of 16×16 threads computes a 16×16 tile of C_b, one output per
//   thread; blockIdx.z is the product b. The k dimension advances in slices of 16: every thread
//   stages one element of op(A_b)'s 16×16 slice and one of op(B_b)'s in shared memory (zero past
//   the edges, so any m, n, k works), the block waits, then each thread does 16 FMAs. Launches of
//   more than 65,535 products (the grid's z limit) are split.
//
// Roofline: a slice moves 2·16·16·4 B = 2 KiB from global memory (mostly L2 hits: the tiles of a
// row or column of C read the same slices) for 2·16·16·16 = 8 kFLOP: 4 FLOP/B, memory-bound,
// ~10 TFLOP/s at the H100's L2 bandwidth. Loads of a non-transposed operand are coalesced; of a
// transposed one, strided. The GCN head's products are small: a batch of 64 images, C = 100
// categories, D = 1024 features and 14×14 positions make 2.6 GFLOP of category representations
// forward, 7.7 with their two backward products — ~1 ms, next to a ResNet-101 training step of
// a few hundred ms at 448×448. This textbook tiling is enough; kernels/gemm.cu's
// register-blocked tiles are the model if it ever is not.
#include "kernels/batched_gemm.h"
#include "kernels/gpu.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kTile = 16;
constexpr int64_t kMaxGridZ = 65535;

// Element (row, col) of op(X), op(X) rows×cols, X row-major with leading dimension ld and
// transposed when `trans`; 0 outside op(X).
I2V_HD float operand(const float* x, bool trans, int64_t row, int64_t col, int64_t rows, int64_t cols, int64_t ld) {
  if (row >= rows || col >= cols) return 0.0f;
  return trans ? x[col * ld + row] : x[row * ld + col];
}

__global__ void batched_gemm_tile16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                    const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                                    int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                                    int64_t first) {
  __shared__ float a_slice[kTile][kTile + 1];  // [row][k]
  __shared__ float b_slice[kTile][kTile + 1];  // [k][col]
  const int64_t product = first + blockIdx.z;
  const float* ab = a + product * stride_a;
  const float* bb = b + product * stride_b;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += kTile) {
    a_slice[ty][tx] = operand(ab, trans_a, row, k0 + tx, m, k, lda);
    b_slice[ty][tx] = operand(bb, trans_b, k0 + ty, col, k, n, ldb);
    __syncthreads();
    for (int kk = 0; kk < kTile; ++kk) acc += a_slice[ty][kk] * b_slice[kk][tx];
    __syncthreads();
  }
  if (row >= m || col >= n) return;
  float* out = c + product * stride_c + row * ldc + col;
  *out = beta == 0.0f ? alpha * acc : alpha * acc + beta * *out;
}

}  // namespace

void batched_gemm(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                  float beta, float* c, int64_t ldc, int64_t stride_c) {
  I2V_CHECK(stride_c != 0 || batch <= 1, "batched_gemm: {} products into one C", batch);
  if (m == 0 || n == 0) return;
  for (int64_t first = 0; first < batch; first += kMaxGridZ) {
    const int64_t count = batch - first < kMaxGridZ ? batch - first : kMaxGridZ;
    const dim3 grid(unsigned((n + kTile - 1) / kTile), unsigned((m + kTile - 1) / kTile), unsigned(count));
    I2V_LAUNCH(batched_gemm_tile16, grid, dim3(kTile, kTile), 0, 0, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a,
               b, ldb, stride_b, beta, c, ldc, stride_c, first);
  }
}

}  // namespace i2v::I2V_GPU_NS
