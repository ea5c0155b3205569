// GEMM on tensor cores (contract: kernels/gemm.h): gemm() runs it when the matrix products are
// tf32 or bf16 (kernels/precision.h). One 128 × 128 tile of C per block through the shared mainloop
// of kernels/tensor_core_tile.cuh; op(A) and op(B) are staged in whichever shared-memory layout
// keeps their copies contiguous (a transpose changes the layout, not the code), 16 bytes per
// cp.async where the leading dimension allows. Roofline: tensor_core_tile.cuh; on large products
// (m, n, k ≥ 1024) the tile does 32 FLOP per byte it copies and should run at 100-200 TFLOP/s in
// TF32 on an H100 (cuBLAS TF32 reaches ~300-400 with wgmma), against ~20-40 for the fp32 SIMT
// kernels; BF16 halves the mma time but not the fp32 staging, so expect it nearer TF32's rate
// than twice it.
#include "kernels/gemm.h"
#include "kernels/tensor_core_tile.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

using tc::KLayout;
using tc::MatrixLoader;

template <Precision P, KLayout LA, KLayout LB>
__global__ void __launch_bounds__(tc::kThreads)
    gemm_tensor_core_128x128x32(MatrixLoader<LA> a, MatrixLoader<LB> b, int64_t m, int64_t n, int64_t k, float alpha,
                         float beta, float* c, int64_t ldc) {
  const int64_t row0 = int64_t(blockIdx.y) * tc::kTile, col0 = int64_t(blockIdx.x) * tc::kTile;
  tc::Accumulators acc;
  tc::block_tile_mma<P>(a, b, row0, col0, 0, k, int(threadIdx.x), acc);
  tc::for_each_accumulator(acc, int(threadIdx.x), [&](int r, int cc, float value) {
    const int64_t row = row0 + r, col = col0 + cc;
    if (row >= m || col >= n) return;
    float* out = c + row * ldc + col;
    *out = beta == 0.0f ? alpha * value : alpha * value + beta * *out;  // beta == 0: C is not read
  });
}

template <Precision P, KLayout LA, KLayout LB>
void launch(MatrixLoader<LA> a, MatrixLoader<LB> b, int64_t m, int64_t n, int64_t k, float alpha, float beta,
            float* c, int64_t ldc) {
  const int64_t row_tiles = (m + tc::kTile - 1) / tc::kTile, col_tiles = (n + tc::kTile - 1) / tc::kTile;
  I2V_CHECK(row_tiles <= 65535, "gemm_tensor_core: {} rows, at most {}", m, 65535 * tc::kTile);
  constexpr size_t shared = tc::shared_bytes<MatrixLoader<LA>, MatrixLoader<LB>>();
  static const bool allowed = (tc::allow_shared_bytes(gemm_tensor_core_128x128x32<P, LA, LB>, shared), true);
  (void)allowed;
  I2V_LAUNCH(gemm_tensor_core_128x128x32<P, LA, LB>, dim3(unsigned(col_tiles), unsigned(row_tiles)), tc::kThreads,
             shared, 0, a, b, m, n, k, alpha, beta, c, ldc);
}

// op(A) · op(B) in precision P: op(A) is m × k, stored m × k (k contiguous: inner) or k × m
// (outer). op(B)'s rows in the tile's terms are its n columns: stored k × n (outer) or n × k (inner).
template <Precision P>
void gemm_in(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const bool vector_a = tc::vector_copies(a, lda), vector_b = tc::vector_copies(b, ldb);
  if (!trans_a && !trans_b)
    launch<P>(MatrixLoader<KLayout::inner>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::outer>{b, ldb, n, k, vector_b},
              m, n, k, alpha, beta, c, ldc);
  else if (!trans_a && trans_b)
    launch<P>(MatrixLoader<KLayout::inner>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::inner>{b, ldb, n, k, vector_b},
              m, n, k, alpha, beta, c, ldc);
  else if (trans_a && !trans_b)
    launch<P>(MatrixLoader<KLayout::outer>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::outer>{b, ldb, n, k, vector_b},
              m, n, k, alpha, beta, c, ldc);
  else
    launch<P>(MatrixLoader<KLayout::outer>{a, lda, m, k, vector_a}, MatrixLoader<KLayout::inner>{b, ldb, n, k, vector_b},
              m, n, k, alpha, beta, c, ldc);
}

}  // namespace

void gemm_tensor_core(Precision precision, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  tc::with_tensor_core_precision(precision, "gemm_tensor_core", [&](auto p) {
    gemm_in<decltype(p)::value>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
}

}  // namespace i2v::I2V_GPU_NS
