// Convolutions on tensor cores as implicit GEMMs (contract: kernels/conv_tensor_core.h), on the
// mainloop of kernels/tensor_core_tile.cuh, in tf32 or bf16. Each kernel is that mainloop with two
// loaders — how a stage of each operand is gathered — and an epilogue — where C goes:
//
//   conv_forward_tc_128x128x32         A = weight [out][rows] (a matrix), B = im2col(images)
//                                      gathered per element; C → y in NCHW, + bias, stored as
//                                      f32 or rounded once to bf16.
//   conv_weight_grad_tc_128x128x32     A = dy as [out][count · P], B = im2col(images)ᵀ gathered
//                                      per element; C → grad_weight (+=), or a split's partial
//                                      sums, which add_splits adds in order.
//   the input gradient                 flip_kernel writes weightᵀ with the kernel flipped, then
//                                      the forward kernel runs on dy (stride 1), its output
//                                      f32 or bf16 as the forward's.
//
// The gathers: a loader thread owns one column of the stage (an output pixel p for the forward,
// a pixel p of the reduction for the weight gradient) and walks the stage's rows with additions
// only (kernels/im2col.h's walks: element (r, p) is images[row.offset + column.offset] inside the
// image, 0 in the padding). Each element is one cp.async.4 (the im2col offsets of neighbouring
// pixels are not 16-byte aligned), zero-filled in the padding. Consecutive threads own
// consecutive pixels, so a warp's copies of one row are contiguous in the image.
//
// Rooflines at 224×224, batch 64 (H100: TF32 ~495 TFLOP/s dense, ~60-70% reachable with
// mma.sync; 3.35 TB/s): VGG conv3_2's forward is 2 · 256 · 2304 · 200,704 = 237 GFLOP over
// 0.2 GB of images and output: compute-bound (~1,200 FLOP/B), 1-2 ms at 120-240 TFLOP/s (cuDNN
// TF32: 0.99 ms on an H200). conv1_1's weight gradient is 2 · 64 · 27 · 3.2 M = 11 GFLOP over
// 0.8 GB of dy and images: memory-bound, ~0.25 ms at HBM speed; split 264 ways it fills every SM
// (the fp32 GEMM ran it on one block: 590 ms).
#include "kernels/allocator.h"
#include "kernels/conv_tensor_core.h"
#include "kernels/launch_shape.h"
#include "kernels/tensor_core_tile.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

using tc::copy_source;
using tc::KLayout;
using tc::MatrixLoader;
using tc::OperandTile;

// Blocks that fill an H100 twice (132 SMs, 2 blocks each): the weight gradient splits its
// reduction until it has about this many.
constexpr int64_t kTargetBlocks = 264;
// The fewest stages a split gets (its partial sums cost a write and a read of the output).
constexpr int64_t kMinStagesPerSplit = 16;

// ---- loaders -------------------------------------------------------------------------------

// B of the forward product: element (k = col row r, n = col column p) of im2col(images), staged
// [k][n]. Loader thread t owns column col0 + t of every stage and walks all kTileK rows.
struct Im2colLoader {
  static constexpr KLayout kLayout = KLayout::outer;
  const float* images;
  ConvGeometry g;
  int64_t columns;  // count · out_pixels

  int column = 0;  // in the tile
  bool column_exists = false;
  Im2colTerm column_term{};
  ColRowWalk rows{};  // at the next row to copy

  I2V_HD void start(int64_t col0, int64_t k_begin, int loader_thread) {
    column = loader_thread;
    column_exists = col0 + column < columns;
    if (column_exists) column_term = ColColumnWalk(g, col0 + column).term();
    rows = ColRowWalk(g, k_begin);
  }

  __device__ void load(float* tile, int64_t k0) {
    const int64_t depth = g.col_rows();
    for (int r = 0; r < tc::kTileK; ++r, rows.next()) {
      const Im2colTerm& row = rows.term();
      const int bytes = column_exists && k0 + r < depth && im2col_inside(g, row, column_term) ? 4 : 0;
      cp_async_4(tile + OperandTile<kLayout>::index(column, r),
                 copy_source(images + row.offset + column_term.offset, bytes, images), bytes);
    }
  }
};

// A of the weight-gradient product: dy [count][out][P] read as the matrix [out][count · P],
// element (m = o, k = n · P + p), staged [m][k]. With P a multiple of 4 (and dy 16-byte
// aligned), four pixels of one image per cp.async.16: loader thread t owns pixels
// 4 · (t % 8) .. + 3 of every stage and rows t / 8 + 16 · i; otherwise pixel t % 32 and rows
// 32 · (t / 32) + i, one cp.async.4 each. Either way the thread's pixel advances kTileK per stage.
struct ChannelRowsLoader {
  static constexpr KLayout kLayout = KLayout::inner;
  const float* dy;
  int64_t out_channels, pixels, depth;  // depth: count · pixels
  bool vector;

  int64_t row0 = 0;
  int first_row = 0, row_step = 0, column = 0;  // in the tile
  int64_t image = 0, pixel = 0;                  // of the thread's column at the next stage

  I2V_HD void start(int64_t tile_row0, int64_t k_begin, int loader_thread) {
    row0 = tile_row0;
    if (vector) {
      column = 4 * (loader_thread % 8), first_row = loader_thread / 8, row_step = 16;
    } else {
      column = loader_thread % 32, first_row = 32 * (loader_thread / 32), row_step = 1;
    }
    const int64_t k = k_begin + column;
    image = k / pixels, pixel = k % pixels;
  }

  __device__ void load(float* tile, int64_t k0) {
    using Tile = OperandTile<kLayout>;
    const bool column_exists = k0 + column < depth;
    const float* image_rows = dy + image * out_channels * pixels + pixel;  // + o · pixels
    const int rows = vector ? tc::kTile / 16 : 32;
    for (int i = 0; i < rows; ++i) {
      const int row = first_row + row_step * i;
      const bool exists = column_exists && row0 + row < out_channels;
      const int bytes = exists ? (vector ? 16 : 4) : 0;
      const void* source = copy_source(image_rows + (row0 + row) * pixels, bytes, dy);
      if (vector) cp_async_16(tile + Tile::index(row, column), source, bytes);
      else cp_async_4(tile + Tile::index(row, column), source, bytes);
    }
    for (pixel += tc::kTileK; pixel >= pixels; pixel -= pixels) ++image;
  }
};

// B of the weight-gradient product: element (k = col column p, n = col row r) of im2col(images),
// staged [n][k]. Loader thread t owns the stage's column (pixel) t % 32 and the tile's rows
// 32 · (t / 32) .. + 31, which it walks again every stage.
struct Im2colTransposedLoader {
  static constexpr KLayout kLayout = KLayout::inner;
  const float* images;
  ConvGeometry g;
  int64_t columns;  // count · out_pixels: the depth

  int64_t row0 = 0;
  int column = 0, first_row = 0;  // in the stage, in the tile
  ColRowWalk first{};              // the walk at the thread's first row
  ColColumnWalk pixel{};           // at the thread's column of the next stage

  I2V_HD void start(int64_t tile_row0, int64_t k_begin, int loader_thread) {
    row0 = tile_row0;
    column = loader_thread % 32, first_row = 32 * (loader_thread / 32);
    first = ColRowWalk(g, row0 + first_row);
    pixel = ColColumnWalk(g, k_begin + column);
  }

  __device__ void load(float* tile, int64_t k0) {
    const bool column_exists = k0 + column < columns;
    const int64_t rows = g.col_rows();
    const Im2colTerm& column_term = pixel.term();
    ColRowWalk walk = first;
    for (int i = 0; i < 32; ++i, walk.next()) {
      const int row = first_row + i;
      const int bytes = column_exists && row0 + row < rows && im2col_inside(g, walk.term(), column_term) ? 4 : 0;
      cp_async_4(tile + OperandTile<kLayout>::index(row, column),
                 copy_source(images + walk.term().offset + column_term.offset, bytes, images), bytes);
    }
    pixel.advance(tc::kTileK);
  }
};

// ---- kernels -------------------------------------------------------------------------------

// A column of C (an output pixel of the batch) as an NCHW offset: image · channels · pixels +
// pixel, worked out once per column of a thread's accumulators (for_each_accumulator visits a
// column's rows together).
struct NchwColumn {
  int64_t pixels, channels;
  int64_t column = -1, offset = 0;
  I2V_HD int64_t offset_of(int64_t c) {
    if (c != column) column = c, offset = c / pixels * channels * pixels + c % pixels;
    return offset;
  }
};

// y as Out: float, or bfloat16 (the f32 value, bias added, rounded once).
template <Precision P, typename Out>
__global__ void __launch_bounds__(tc::kThreads)
    conv_forward_tc_128x128x32(MatrixLoader<KLayout::inner> weight, Im2colLoader images, const float* bias,
                                 int64_t out_channels, Out* y) {
  const int64_t row0 = int64_t(blockIdx.y) * tc::kTile, col0 = int64_t(blockIdx.x) * tc::kTile;
  tc::Accumulators acc;
  tc::block_tile_mma<P>(weight, images, row0, col0, 0, images.g.col_rows(), int(threadIdx.x), acc);
  const int64_t pixels = images.g.out_pixels();
  NchwColumn nchw{pixels, out_channels};
  tc::for_each_accumulator(acc, int(threadIdx.x), [&](int r, int c, float value) {
    const int64_t o = row0 + r, column = col0 + c;
    if (o >= out_channels || column >= images.columns) return;
    y[nchw.offset_of(column) + o * pixels] = Out(bias ? value + bias[o] : value);
  });
}

// grid.z splits the reduction: split z covers stages [z · stages_per_split, ...) and writes its
// partial sums to partial[z] (out × rows); one split adds straight into grad_weight.
template <Precision P>
__global__ void __launch_bounds__(tc::kThreads)
    conv_weight_grad_tc_128x128x32(ChannelRowsLoader dy, Im2colTransposedLoader images,
                                     int64_t stages_per_split, float* grad_weight, float* partial) {
  const int64_t row0 = int64_t(blockIdx.y) * tc::kTile, col0 = int64_t(blockIdx.x) * tc::kTile;
  const int64_t k_begin = int64_t(blockIdx.z) * stages_per_split * tc::kTileK;
  const int64_t split_end = k_begin + stages_per_split * tc::kTileK;
  const int64_t k_end = split_end < images.columns ? split_end : images.columns;
  tc::Accumulators acc;
  tc::block_tile_mma<P>(dy, images, row0, col0, k_begin, k_end, int(threadIdx.x), acc);
  const int64_t out_channels = dy.out_channels, rows = images.g.col_rows();
  float* out = gridDim.z == 1 ? grad_weight : partial + int64_t(blockIdx.z) * out_channels * rows;
  tc::for_each_accumulator(acc, int(threadIdx.x), [&](int r, int c, float value) {
    const int64_t o = row0 + r, row = col0 + c;
    if (o >= out_channels || row >= rows) return;
    if (gridDim.z == 1) out[o * rows + row] += value;
    else out[o * rows + row] = value;
  });
}

// grad_weight[i] += Σ_s partial[s][i], s in order.
__global__ void add_splits(const float* partial, int64_t splits, int64_t size, float* grad_weight) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    float sum = 0.0f;
    for (int64_t s = 0; s < splits; ++s) sum += partial[s * size + i];
    grad_weight[i] += sum;
  }
}

// flipped[c][o][kh − 1 − i][kw − 1 − j] = weight[o][c][i][j]: the kernel of the input gradient
// as a forward convolution of dy (in and out channels swapped, the window turned around).
__global__ void flip_kernel(const float* weight, int64_t out_channels, int64_t in_channels, int64_t kernel_h,
                            int64_t kernel_w, float* flipped) {
  const int64_t window = kernel_h * kernel_w, total = out_channels * in_channels * window;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t j = i % kernel_w, k = i / kernel_w % kernel_h, c = i / window % in_channels, o = i / (window * in_channels);
    flipped[((c * out_channels + o) * kernel_h + (kernel_h - 1 - k)) * kernel_w + (kernel_w - 1 - j)] = weight[i];
  }
}

dim3 tile_grid(int64_t rows, int64_t columns, int64_t splits) {
  const int64_t row_tiles = (rows + tc::kTile - 1) / tc::kTile;
  I2V_CHECK(row_tiles <= 65535, "tensor-core convolution: {} output rows, at most {}", rows, 65535 * tc::kTile);
  return dim3(unsigned((columns + tc::kTile - 1) / tc::kTile), unsigned(row_tiles), unsigned(splits));
}

template <typename Out>
void conv_forward(Precision precision, const float* weight, const float* bias, int64_t out_channels,
                  const float* images, int64_t count, const ConvGeometry& g, Out* y) {
  const int64_t columns = count * g.out_pixels(), rows = g.col_rows();
  if (columns == 0 || out_channels == 0) return;
  const MatrixLoader<KLayout::inner> a{weight, rows, out_channels, rows, tc::vector_copies(weight, rows)};
  const Im2colLoader b{images, g, columns};
  constexpr size_t shared = tc::shared_bytes<MatrixLoader<KLayout::inner>, Im2colLoader>();
  tc::with_tensor_core_precision(precision, "conv_forward_tensor_core", [&](auto p) {
    constexpr Precision P = decltype(p)::value;
    static const bool allowed = (tc::allow_shared_bytes(conv_forward_tc_128x128x32<P, Out>, shared), true);
    (void)allowed;
    I2V_LAUNCH(conv_forward_tc_128x128x32<P, Out>, tile_grid(out_channels, columns, 1), tc::kThreads, shared, 0, a,
               b, bias, out_channels, y);
  });
}

template <typename Out>
void conv_input_grad(Precision precision, const float* weight, int64_t out_channels, const float* dy, int64_t count,
                     const ConvGeometry& g, Out* grad_images) {
  I2V_CHECK(conv_input_grad_tensor_core_applies(g), "conv_input_grad_tensor_core: stride {}x{}, padding {}x{}, kernel {}x{}",
            g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.kernel_h, g.kernel_w);
  const int64_t weights = out_channels * g.col_rows();
  if (count == 0 || weights == 0) return;
  const Scratch flipped(Device::I2V_GPU_NS(), size_t(weights) * sizeof(float));
  I2V_LAUNCH(flip_kernel, elementwise_blocks(weights), kElementwiseThreads, 0, 0, weight, out_channels, g.channels,
             g.kernel_h, g.kernel_w, flipped.as<float>());
  // dy is the input of a stride-1 convolution with out_channels channels whose output has the
  // images' size: (out + 2 · (kernel − 1 − pad) − kernel) + 1 = height.
  ConvGeometry flipped_geometry = g;
  flipped_geometry.channels = out_channels;
  flipped_geometry.height = g.out_height(), flipped_geometry.width = g.out_width();
  flipped_geometry.pad_h = g.kernel_h - 1 - g.pad_h, flipped_geometry.pad_w = g.kernel_w - 1 - g.pad_w;
  conv_forward(precision, flipped.as<float>(), nullptr, g.channels, dy, count, flipped_geometry, grad_images);
}

}  // namespace

#define I2V_CONV_TENSOR_CORE_OUTPUTS(out_t)                                                                       \
  void conv_forward_tensor_core(Precision precision, const float* weight, const float* bias, int64_t out_channels, \
                                const float* images, int64_t count, const ConvGeometry& g, out_t* y) {            \
    conv_forward(precision, weight, bias, out_channels, images, count, g, y);                                     \
  }                                                                                                                \
  void conv_input_grad_tensor_core(Precision precision, const float* weight, int64_t out_channels, const float* dy, \
                                   int64_t count, const ConvGeometry& g, out_t* grad_images) {                    \
    conv_input_grad(precision, weight, out_channels, dy, count, g, grad_images);                                  \
  }
I2V_CONV_TENSOR_CORE_OUTPUTS(float)
I2V_CONV_TENSOR_CORE_OUTPUTS(bfloat16)
#undef I2V_CONV_TENSOR_CORE_OUTPUTS

void conv_weight_grad_tensor_core(Precision precision, const float* dy, int64_t out_channels, const float* images,
                                  int64_t count, const ConvGeometry& g, float* grad_weight) {
  const int64_t pixels = g.out_pixels(), depth = count * pixels, rows = g.col_rows();
  if (depth == 0 || out_channels == 0) return;
  const ChannelRowsLoader a{dy, out_channels, pixels, depth, pixels % 4 == 0 && tc::vector_copies(dy, 4)};
  const Im2colTransposedLoader b{images, g, depth};
  // As many splits as bring the grid to kTargetBlocks, each of at least kMinStagesPerSplit
  // stages, then evened out.
  const dim3 tiles = tile_grid(out_channels, rows, 1);
  const int64_t stages = (depth + tc::kTileK - 1) / tc::kTileK;
  int64_t splits = std::max<int64_t>(1, std::min((kTargetBlocks + tiles.x * tiles.y - 1) / (tiles.x * tiles.y),
                                                 stages / kMinStagesPerSplit));
  const int64_t stages_per_split = (stages + splits - 1) / splits;
  splits = (stages + stages_per_split - 1) / stages_per_split;

  constexpr size_t shared = tc::shared_bytes<ChannelRowsLoader, Im2colTransposedLoader>();
  tc::with_tensor_core_precision(precision, "conv_weight_grad_tensor_core", [&](auto p) {
    constexpr Precision P = decltype(p)::value;
    static const bool allowed = (tc::allow_shared_bytes(conv_weight_grad_tc_128x128x32<P>, shared), true);
    (void)allowed;
    if (splits == 1) {
      I2V_LAUNCH(conv_weight_grad_tc_128x128x32<P>, tile_grid(out_channels, rows, 1), tc::kThreads, shared, 0, a, b,
                 stages_per_split, grad_weight, nullptr);
      return;
    }
    const Scratch partial(Device::I2V_GPU_NS(), size_t(splits * out_channels * rows) * sizeof(float));
    I2V_LAUNCH(conv_weight_grad_tc_128x128x32<P>, tile_grid(out_channels, rows, splits), tc::kThreads, shared, 0, a,
               b, stages_per_split, grad_weight, partial.as<float>());
    I2V_LAUNCH(add_splits, elementwise_blocks(out_channels * rows), kElementwiseThreads, 0, 0, partial.as<float>(),
               splits, out_channels * rows, grad_weight);
  });
}

}  // namespace i2v::I2V_GPU_NS
