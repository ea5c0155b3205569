// GEMM on TF32 tensor cores (contract: kernels/gemm.h): gemm() runs it when the matrix products
// are tf32 (kernels/precision.h). One 128 × 128 tile of C per block through the shared mainloop
// of kernels/tf32_block_tile.cuh; op(A) and op(B) are staged in whichever shared-memory layout
// keeps their copies contiguous (a transpose changes the layout, not the code), 16 bytes per
// cp.async where the leading dimension allows. Roofline: tf32_block_tile.cuh; on large products
// (m, n, k ≥ 1024) the tile does 32 FLOP per byte it copies and should run at 100-200 TFLOP/s on
// an H100 (cuBLAS TF32 reaches ~300-400 with wgmma), against ~20-40 for the fp32 SIMT kernels.
#include "kernels/gemm.h"
#include "kernels/tf32_block_tile.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

using tf32::KLayout;
using tf32::MatrixLoader;

template <KLayout LA, KLayout LB>
__global__ void __launch_bounds__(tf32::kThreads)
    gemm_tf32_128x128x32(MatrixLoader<LA> a, MatrixLoader<LB> b, int64_t m, int64_t n, int64_t k, float alpha,
                         float beta, float* c, int64_t ldc) {
  const int64_t row0 = int64_t(blockIdx.y) * tf32::kTile, col0 = int64_t(blockIdx.x) * tf32::kTile;
  tf32::Accumulators acc;
  tf32::block_tile_mma(a, b, row0, col0, 0, k, int(threadIdx.x), acc);
  tf32::for_each_accumulator(acc, int(threadIdx.x), [&](int r, int cc, float value) {
    const int64_t row = row0 + r, col = col0 + cc;
    if (row >= m || col >= n) return;
    float* out = c + row * ldc + col;
    *out = beta == 0.0f ? alpha * value : alpha * value + beta * *out;  // beta == 0: C is not read
  });
}

template <KLayout LA, KLayout LB>
void launch(MatrixLoader<LA> a, MatrixLoader<LB> b, int64_t m, int64_t n, int64_t k, float alpha, float beta,
            float* c, int64_t ldc) {
  const int64_t row_tiles = (m + tf32::kTile - 1) / tf32::kTile, col_tiles = (n + tf32::kTile - 1) / tf32::kTile;
  I2V_CHECK(row_tiles <= 65535, "gemm_tf32: {} rows, at most {}", m, 65535 * tf32::kTile);
  constexpr size_t shared = tf32::shared_bytes<MatrixLoader<LA>, MatrixLoader<LB>>();
  static const bool allowed = (tf32::allow_shared_bytes(gemm_tf32_128x128x32<LA, LB>, shared), true);
  (void)allowed;
  I2V_LAUNCH(gemm_tf32_128x128x32<LA, LB>, dim3(unsigned(col_tiles), unsigned(row_tiles)), tf32::kThreads, shared,
             0, a, b, m, n, k, alpha, beta, c, ldc);
}

}  // namespace

void gemm_tf32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // op(A) is m × k: stored m × k (k contiguous: inner) or k × m (outer). op(B)'s rows in the
  // tile's terms are its n columns: stored k × n (outer) or n × k (inner).
  const bool vector_a = tf32::vector_copies(a, lda), vector_b = tf32::vector_copies(b, ldb);
  if (!trans_a && !trans_b)
    launch(MatrixLoader<KLayout::inner>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::outer>{b, ldb, n, k, vector_b},
           m, n, k, alpha, beta, c, ldc);
  else if (!trans_a && trans_b)
    launch(MatrixLoader<KLayout::inner>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::inner>{b, ldb, n, k, vector_b},
           m, n, k, alpha, beta, c, ldc);
  else if (trans_a && !trans_b)
    launch(MatrixLoader<KLayout::outer>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::outer>{b, ldb, n, k, vector_b},
           m, n, k, alpha, beta, c, ldc);
  else
    launch(MatrixLoader<KLayout::outer>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::inner>{b, ldb, n, k, vector_b},
           m, n, k, alpha, beta, c, ldc);
}

}  // namespace i2v::I2V_GPU_NS
