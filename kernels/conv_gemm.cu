// The convolution GEMMs on the GPU (see conv_gemm.h): im2col into the workspace, then the tiled
// GEMM (kernels/gemm.cu); col2im after the input-gradient GEMM. Rooflines: im2col.cu, gemm.cu
// (the GEMM dominates: VGG conv3_2 at batch 8 moves ~0.5 GB through im2col and col2im, ~0.15 ms
// at 3.35 TB/s, against 89 GFLOP forward and backward, ~2.2 ms at 40 TFLOP/s).
#include "kernels/conv_gemm.h"
#include "kernels/gemm.h"
#include "kernels/gpu.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

// The col matrix of the group: the images themselves, or im2col written into `col`.
const float* col_matrix(const float* images, int64_t count, const ConvGeometry& g, float* col) {
  if (g.is_pointwise() && count == 1) return images;
  im2col(images, count, g, col);
  return col;
}

}  // namespace

void conv_forward_gemm(const float* weight, int64_t out_channels, const float* images, int64_t count,
                       const ConvGeometry& g, float* col, float* y) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  gemm(false, false, out_channels, columns, rows, 1.0f, weight, rows, col_matrix(images, count, g, col), columns,
       0.0f, y, columns);
}

void conv_weight_grad_gemm(const float* dy, int64_t out_channels, const float* images, int64_t count,
                           const ConvGeometry& g, float* col, float* grad_weight) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  gemm(false, true, out_channels, rows, columns, 1.0f, dy, columns, col_matrix(images, count, g, col), columns, 1.0f,
       grad_weight, rows);
}

void conv_input_grad_gemm(const float* weight, int64_t out_channels, const float* dy, int64_t count,
                          const ConvGeometry& g, float* col, float* grad_images) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  const bool direct = g.is_pointwise() && count == 1;  // the gradient of col is the images'
  gemm(true, false, rows, columns, out_channels, 1.0f, weight, rows, dy, columns, 0.0f, direct ? grad_images : col,
       columns);
  if (!direct) col2im(col, count, g, grad_images);
}

}  // namespace i2v::I2V_GPU_NS
