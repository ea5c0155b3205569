// A convolution as a matrix product, and the data movement around it.
//
// For a group of `images` consecutive NCHW images, im2col lays every kernel window out as a
// column of one matrix, col[row][column] with
//   row    = (c · kernel_h + ki) · kernel_w + kj         (channels · kernel_h · kernel_w rows)
//   column = image · out_pixels + oh · out_width + ow    (images · out_pixels columns),
// holding input[image][c][oh · stride_h − pad_h + ki][ow · stride_w − pad_w + kj], 0 in the
// padding. The convolution of the group is then weights[out, rows] · col (kernels/gemm.h).
// col2im is its adjoint: each input pixel gets the sum of the col entries that copied it (the
// input gradient from the gradient of col). swap_outer_axes moves a [images][channels][pixels]
// block to [channels][images · pixels] and back: the layout of the GEMM's output for a group.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

// One image and the window sliding over it.
struct ConvGeometry {
  int64_t channels = 0, height = 0, width = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;

  I2V_HD int64_t out_height() const { return (height + 2 * pad_h - kernel_h) / stride_h + 1; }
  I2V_HD int64_t out_width() const { return (width + 2 * pad_w - kernel_w) / stride_w + 1; }
  I2V_HD int64_t out_pixels() const { return out_height() * out_width(); }
  I2V_HD int64_t image_size() const { return channels * height * width; }
  I2V_HD int64_t col_rows() const { return channels * kernel_h * kernel_w; }
  // 1×1, stride 1, no padding: one image's col matrix is the image itself.
  I2V_HD bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

// The outputs o in [begin, end) whose input o · stride + offset lies in [0, size), among
// `outputs` outputs: where a window row (or column) reads inside the image.
struct OutputRange {
  int64_t begin, end;
};
I2V_HD OutputRange inside_outputs(int64_t offset, int64_t stride, int64_t size, int64_t outputs) {
  const int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = size - 1 - offset;  // o · stride ≤ last
  int64_t end = last < 0 ? 0 : last / stride + 1;
  end = end < outputs ? end : outputs;
  return {begin, end > begin ? end : begin};
}

// The im2col index mapping, written once for every device and kernel that reads col without
// writing it (the GPU's im2col, the CPU's AVX-512 packing, the tensor-core convolutions):
// element (r, p) of col is images[row.offset + column.offset] when
// 0 ≤ row.h + column.h < height and 0 ≤ row.w + column.w < width, and 0 in the padding. A col
// row r = (c, ki, kj) and a col column p = (image, oh, ow) each contribute one term, and walking
// r or p in order updates its term with additions only.
struct Im2colTerm {
  int64_t offset, h, w;
};

// Walks the col rows r = (c, ki, kj) from a first one: the term of each, with additions only.
// (A walk holds its own copy of the geometry: inside a GPU kernel the copy lives in registers,
// where a pointer to a shared one would be read from memory at every step.)
struct ColRowWalk {
  ConvGeometry g;
  Im2colTerm t{};  // offset = (c · height + ki) · width + kj, h = ki, w = kj
  ColRowWalk() = default;
  I2V_HD ColRowWalk(const ConvGeometry& geometry, int64_t r) : g(geometry) {
    const int64_t c = r / (g.kernel_h * g.kernel_w);
    t.h = r / g.kernel_w % g.kernel_h;
    t.w = r % g.kernel_w;
    t.offset = (c * g.height + t.h) * g.width + t.w;
  }
  I2V_HD const Im2colTerm& term() const { return t; }
  I2V_HD void next() {
    ++t.offset;
    if (++t.w < g.kernel_w) return;
    t.w = 0;
    t.offset += g.width - g.kernel_w;  // the next kernel row
    if (++t.h < g.kernel_h) return;
    t.h = 0;
    t.offset += (g.height - g.kernel_h) * g.width;  // the next channel
  }
};

// Walks the col columns p = (image, oh, ow) from a first one: the term of each, with additions
// only.
struct ColColumnWalk {
  ConvGeometry g;
  int64_t out_h = 0, out_w = 0, oh = 0, ow = 0;
  Im2colTerm t{};  // h = oh · stride_h − pad_h, w = ow · stride_w − pad_w, offset = image · image_size + h · width + w
  ColColumnWalk() = default;
  I2V_HD ColColumnWalk(const ConvGeometry& geometry, int64_t p)
      : g(geometry), out_h(g.out_height()), out_w(g.out_width()), oh(p / out_w % out_h), ow(p % out_w) {
    const int64_t image = p / (out_h * out_w);
    t.h = oh * g.stride_h - g.pad_h;
    t.w = ow * g.stride_w - g.pad_w;
    t.offset = image * g.image_size() + t.h * g.width + t.w;
  }
  I2V_HD const Im2colTerm& term() const { return t; }
  I2V_HD void next() { advance(1); }
  // `steps` calls of next() at once (steps ≥ 0): whole output rows are skipped one at a time.
  I2V_HD void advance(int64_t steps) {
    ow += steps;
    t.w += steps * g.stride_w;
    t.offset += steps * g.stride_w;
    while (ow >= out_w) {  // the next output row
      ow -= out_w;
      t.w -= out_w * g.stride_w;
      t.offset += g.stride_h * g.width - out_w * g.stride_w;
      t.h += g.stride_h;
      if (++oh < out_h) continue;
      oh = 0;  // the next image's first row
      t.offset += g.image_size() - (t.h + g.pad_h) * g.width;
      t.h = -g.pad_h;
    }
  }
};

// Whether col entry (row, column) reads inside the image (else it is padding, 0).
I2V_HD bool im2col_inside(const ConvGeometry& g, const Im2colTerm& row, const Im2colTerm& column) {
  const int64_t h = row.h + column.h, w = row.w + column.w;
  return h >= 0 && h < g.height && w >= 0 && w < g.width;
}

// Col entry (r, p) of `images`, through the mapping above.
template <typename T>
I2V_HD T im2col_element(const T* images, const ConvGeometry& g, const Im2colTerm& row, const Im2colTerm& column) {
  return im2col_inside(g, row, column) ? images[row.offset + column.offset] : T(0);
}

// The sum of the col entries that copied input pixel (ih, iw) of one channel; col_channel
// points at the channel's first row and the image's first column.
template <typename T>
I2V_HD T col2im_pixel(const T* col_channel, int64_t col_ld, const ConvGeometry& g, int64_t ih, int64_t iw) {
  const int64_t out_w = g.out_width(), out_h = g.out_height();
  T sum = T(0);
  for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
    const int64_t h = ih + g.pad_h - ki;  // = oh · stride_h
    if (h < 0 || h % g.stride_h != 0 || h / g.stride_h >= out_h) continue;
    for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
      const int64_t w = iw + g.pad_w - kj;
      if (w < 0 || w % g.stride_w != 0 || w / g.stride_w >= out_w) continue;
      sum += col_channel[(ki * g.kernel_w + kj) * col_ld + (h / g.stride_h) * out_w + w / g.stride_w];
    }
  }
  return sum;
}

}  // namespace i2v

// col[col_rows][images · out_pixels] from images[images][channels][height][width].
I2V_DECLARE_FLOATING_KERNEL(void im2col(const scalar_t* images, int64_t count, const ConvGeometry& geometry,
                                        scalar_t* col))
// images[images][channels][height][width] = the adjoint of im2col applied to col (overwrites).
I2V_DECLARE_FLOATING_KERNEL(void col2im(const scalar_t* col, int64_t count, const ConvGeometry& geometry,
                                        scalar_t* images))
// dst[j][i][:] = src[i][j][:]: src is [rows][cols][inner], dst is [cols][rows][inner].
I2V_DECLARE_FLOATING_KERNEL(void swap_outer_axes(const scalar_t* src, int64_t rows, int64_t cols, int64_t inner,
                                                 scalar_t* dst))
