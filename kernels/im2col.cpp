// im2col, col2im and swap_outer_axes on the CPU: row by row, so the inner loops are contiguous
// copies (stride 1) and adds, split across threads by col row (im2col) or by image plane
// (col2im, which then never has two threads add into the same pixel).
#include <algorithm>
#include <cstring>

#include "kernels/im2col.h"

namespace i2v::cpu {
namespace {

constexpr int64_t kParallelElements = 1 << 15;

}  // namespace

template <typename T>
void im2col(const T* images, int64_t count, const ConvGeometry& g, T* col) {
  const int64_t out_h = g.out_height(), out_w = g.out_width(), pixels = out_h * out_w;
  const int64_t col_ld = count * pixels;
#pragma omp parallel for collapse(2) schedule(static) if (g.col_rows() * col_ld > kParallelElements)
  for (int64_t r = 0; r < g.col_rows(); ++r) {
    for (int64_t image = 0; image < count; ++image) {
      // Col row r reads, for output (oh, ow), input[row.offset + (oh·stride_h − pad_h)·width + ow·stride_w − pad_w]
      // when inside (kernels/im2col.h): along ow, a strided run between the padded ends.
      const Im2colTerm row = ColRowWalk(g, r).term();
      const OutputRange cols = inside_outputs(row.w - g.pad_w, g.stride_w, g.width, out_w);
      T* out = col + r * col_ld + image * pixels;
      for (int64_t oh = 0; oh < out_h; ++oh, out += out_w) {
        const int64_t h = oh * g.stride_h - g.pad_h;
        if (h + row.h < 0 || h + row.h >= g.height) {
          std::fill(out, out + out_w, T(0));
          continue;
        }
        const T* in = images + image * g.image_size() + row.offset + h * g.width - g.pad_w;  // in[ow · stride_w]
        std::fill(out, out + cols.begin, T(0));
        if (g.stride_w == 1) {
          std::copy(in + cols.begin, in + cols.end, out + cols.begin);
        } else {
          for (int64_t ow = cols.begin; ow < cols.end; ++ow) out[ow] = in[ow * g.stride_w];
        }
        std::fill(out + cols.end, out + out_w, T(0));
      }
    }
  }
}

// The adjoint of im2col: the same runs, added back into the planes. Split by image plane, so no
// two threads add into the same pixel.
template <typename T>
void col2im(const T* col, int64_t count, const ConvGeometry& g, T* images) {
  const int64_t out_h = g.out_height(), out_w = g.out_width(), pixels = out_h * out_w;
  const int64_t col_ld = count * pixels, plane_size = g.height * g.width, window = g.kernel_h * g.kernel_w;
#pragma omp parallel for collapse(2) schedule(static) if (count * g.image_size() > kParallelElements)
  for (int64_t image = 0; image < count; ++image) {
    for (int64_t c = 0; c < g.channels; ++c) {
      T* plane = images + image * g.image_size() + c * plane_size;
      std::fill(plane, plane + plane_size, T(0));
      ColRowWalk walk(g, c * window);
      for (int64_t e = 0; e < window; ++e, walk.next()) {
        const Im2colTerm row = walk.term();
        const OutputRange cols = inside_outputs(row.w - g.pad_w, g.stride_w, g.width, out_w);
        const T* in = col + (c * window + e) * col_ld + image * pixels;
        for (int64_t oh = 0; oh < out_h; ++oh, in += out_w) {
          const int64_t h = oh * g.stride_h - g.pad_h;
          if (h + row.h < 0 || h + row.h >= g.height) continue;
          T* out = images + image * g.image_size() + row.offset + h * g.width - g.pad_w;  // out[ow · stride_w]
          if (g.stride_w == 1) {  // contiguous: vectorises
            for (int64_t ow = cols.begin; ow < cols.end; ++ow) out[ow] += in[ow];
          } else {
            for (int64_t ow = cols.begin; ow < cols.end; ++ow) out[ow * g.stride_w] += in[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void swap_outer_axes(const T* src, int64_t rows, int64_t cols, int64_t inner, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (rows * cols * inner > kParallelElements)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      std::memcpy(dst + (j * rows + i) * inner, src + (i * cols + j) * inner, size_t(inner) * sizeof(T));
}

#define I2V_INSTANTIATE_IM2COL(T)                                                   \
  template void im2col<T>(const T*, int64_t, const ConvGeometry&, T*);              \
  template void col2im<T>(const T*, int64_t, const ConvGeometry&, T*);              \
  template void swap_outer_axes<T>(const T*, int64_t, int64_t, int64_t, T*);
I2V_INSTANTIATE_IM2COL(float)
I2V_INSTANTIATE_IM2COL(double)
#undef I2V_INSTANTIATE_IM2COL

}  // namespace i2v::cpu
