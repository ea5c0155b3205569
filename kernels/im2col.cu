// im2col, col2im and swap_outer_axes on the GPU (see im2col.h). All three move data and do no
// arithmetic to speak of: memory-bound, judged in bytes per second.
//
// im2col: one thread per (channel, col column) writes its kernel_h · kernel_w col entries
//   (Caffe's im2col_gpu); threads of a warp are consecutive output pixels, so each of
//   their writes is coalesced and their reads are neighbouring input pixels. Bytes: the input
//   once from DRAM (the kernel_h · kernel_w re-reads hit L1/L2) + the col matrix written,
//   4 · (C·H·W + C·kh·kw·P) per image. VGG conv3_2 at batch 8 (256×56×56, 3×3): 8 × 32 MB
//   = 0.26 GB, ~80 µs at 3.35 TB/s (H100 HBM3), against ~1 ms for its GEMM.
// col2im: one thread per input pixel gathers the col entries that copied it (no atomics, a
//   fixed summation order); same bytes as im2col, read and written the other way.
// swap_outer_axes: one thread per element; reads and writes 4 bytes each, both coalesced along
//   the inner axis.
#include "kernels/gpu.cuh"
#include "kernels/im2col.h"
#include "kernels/launch_shape.h"

namespace i2v::I2V_GPU_NS {
namespace {

__global__ void im2col_kernel(const float* images, int64_t count, ConvGeometry g, float* col) {
  const int64_t columns = count * g.out_pixels(), window = g.kernel_h * g.kernel_w;
  const int64_t windows = g.channels * columns, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < windows; i += stride) {
    const int64_t p = i % columns, c = i / columns;  // consecutive threads: consecutive col columns
    const Im2colTerm column = ColColumnWalk(g, p).term();
    ColRowWalk row(g, c * window);
    for (int64_t e = 0; e < window; ++e, row.next())
      col[(c * window + e) * columns + p] = im2col_element(images, g, row.term(), column);
  }
}

__global__ void col2im_kernel(const float* col, int64_t count, ConvGeometry g, float* images) {
  const int64_t pixels = g.out_pixels(), col_ld = count * pixels, total = count * g.image_size();
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t iw = i % g.width, ih = i / g.width % g.height, c = i / (g.width * g.height) % g.channels;
    const int64_t image = i / g.image_size();
    const float* col_channel = col + c * g.kernel_h * g.kernel_w * col_ld + image * pixels;
    images[i] = col2im_pixel(col_channel, col_ld, g, ih, iw);
  }
}

__global__ void swap_outer_axes_kernel(const float* src, int64_t rows, int64_t cols, int64_t inner, float* dst) {
  const int64_t total = rows * cols * inner, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t e = i % inner, row = i / inner % rows, column = i / (inner * rows);  // dst[column][row][e]
    dst[i] = src[(row * cols + column) * inner + e];
  }
}

}  // namespace

void im2col(const float* images, int64_t count, const ConvGeometry& geometry, float* col) {
  const int64_t windows = geometry.channels * count * geometry.out_pixels();
  if (windows == 0) return;
  I2V_LAUNCH(im2col_kernel, elementwise_blocks(windows), kElementwiseThreads, 0, 0, images, count, geometry, col);
}

void col2im(const float* col, int64_t count, const ConvGeometry& geometry, float* images) {
  const int64_t total = count * geometry.image_size();
  if (total == 0) return;
  I2V_LAUNCH(col2im_kernel, elementwise_blocks(total), kElementwiseThreads, 0, 0, col, count, geometry, images);
}

void swap_outer_axes(const float* src, int64_t rows, int64_t cols, int64_t inner, float* dst) {
  const int64_t total = rows * cols * inner;
  if (total == 0) return;
  I2V_LAUNCH(swap_outer_axes_kernel, elementwise_blocks(total), kElementwiseThreads, 0, 0, src, rows, cols, inner,
             dst);
}

}  // namespace i2v::I2V_GPU_NS
