// 2-D max and average pooling over NCHW planes, and global average pooling, with PyTorch's
// window rules (nn/layers/pool2d.h computes the output size the same way).
//
// Along one axis, output o pools the input positions [o·stride − pad, o·stride − pad + kernel)
// clipped to the input. Average pooling divides by the window's size clipped to the padded input
// [−pad, in + pad) when padding counts (count_include_pad, PyTorch's default), else by the number
// of input positions it covers. Backward gathers: input position i collects the gradients of the
// outputs whose windows cover it, in increasing output order, so the CPU and the GPU (which run
// the same I2V_HD bodies below) add in the same order and no atomics are needed.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

struct Pool2dGeometry {
  int64_t planes = 0;  // N · C
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // average pooling only
};

// The input positions [begin, end) that output o of one axis pools, and the window's size within
// the padded input (avg_pool's divisor with count_include_pad).
struct PoolSpan {
  int64_t begin, end, padded_size;
};

I2V_HD PoolSpan pool_span(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t start = o * stride - pad;
  const int64_t padded_end = start + kernel < in + pad ? start + kernel : in + pad;
  return {start > 0 ? start : 0, start + kernel < in ? start + kernel : in, padded_end - start};
}

// The outputs [first, last] of one axis whose windows cover input position i (empty when last < first).
struct CoveringOutputs {
  int64_t first, last;
};

I2V_HD CoveringOutputs pool_outputs_covering(int64_t i, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t first = i + pad < kernel ? 0 : (i + pad - kernel) / stride + 1;
  const int64_t last = (i + pad) / stride;
  return {first, last < out - 1 ? last : out - 1};
}

// Output element o (of planes · out_h · out_w): its plane's first input element and the input
// spans its window pools along h and w.
struct PoolWindow {
  int64_t plane_offset;
  PoolSpan h, w;
};

I2V_HD PoolWindow pool_window(const Pool2dGeometry& g, int64_t o) {
  const int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, plane = o / (g.out_w * g.out_h);
  return {plane * g.in_h * g.in_w, pool_span(oh, g.in_h, g.kernel_h, g.stride_h, g.pad_h),
          pool_span(ow, g.in_w, g.kernel_w, g.stride_w, g.pad_w)};
}

// The divisor of average-pool output o.
I2V_HD int64_t avg_pool_divisor(const Pool2dGeometry& g, const PoolWindow& window) {
  const PoolSpan &h = window.h, &w = window.w;
  return g.count_include_pad ? h.padded_size * w.padded_size : (h.end - h.begin) * (w.end - w.begin);
}

// Σ contribution(o, index) over the outputs o whose windows cover input element i (of
// planes · in_h · in_w), in increasing o; `index` is i's index within its plane.
template <typename T, typename Contribution>
I2V_HD T sum_over_covering_outputs(const Pool2dGeometry& g, int64_t i, const Contribution& contribution) {
  const int64_t iw = i % g.in_w, ih = (i / g.in_w) % g.in_h, plane = i / (g.in_w * g.in_h);
  const CoveringOutputs oh = pool_outputs_covering(ih, g.out_h, g.kernel_h, g.stride_h, g.pad_h);
  const CoveringOutputs ow = pool_outputs_covering(iw, g.out_w, g.kernel_w, g.stride_w, g.pad_w);
  const int64_t base = plane * g.out_h * g.out_w, index = ih * g.in_w + iw;
  T sum = T(0);
  for (int64_t h = oh.first; h <= oh.last; ++h)
    for (int64_t w = ow.first; w <= ow.last; ++w) sum += contribution(base + h * g.out_w + w, index);
  return sum;
}

// Output element o of max pooling: the largest value of its window and its index in the input
// plane. The first index wins a tie and a NaN wins over numbers, as in PyTorch.
template <typename T>
struct MaxPoolForward {
  const T* x;
  T* y;
  int32_t* argmax;
  Pool2dGeometry g;
  I2V_HD void operator()(int64_t o) const {
    const PoolWindow win = pool_window(g, o);
    const T* xp = x + win.plane_offset;
    T best = T(-INFINITY);
    int64_t best_index = win.h.begin * g.in_w + win.w.begin;
    for (int64_t ih = win.h.begin; ih < win.h.end; ++ih)
      for (int64_t iw = win.w.begin; iw < win.w.end; ++iw) {
        const T v = xp[ih * g.in_w + iw];
        if (v > best || std::isnan(v)) {
          best = v;
          best_index = ih * g.in_w + iw;
        }
      }
    y[o] = best;
    argmax[o] = int32_t(best_index);
  }
};

// Input element i: the sum of the gradients of the outputs whose argmax it is.
template <typename T>
struct MaxPoolBackward {
  const T* dy;
  const int32_t* argmax;
  T* dx;
  Pool2dGeometry g;
  I2V_HD void operator()(int64_t i) const {
    dx[i] = sum_over_covering_outputs<T>(
        g, i, [this](int64_t o, int64_t index) { return argmax[o] == index ? dy[o] : T(0); });
  }
};

template <typename T>
struct AvgPoolForward {
  const T* x;
  T* y;
  Pool2dGeometry g;
  I2V_HD void operator()(int64_t o) const {
    const PoolWindow win = pool_window(g, o);
    const T* xp = x + win.plane_offset;
    T sum = T(0);
    for (int64_t ih = win.h.begin; ih < win.h.end; ++ih)
      for (int64_t iw = win.w.begin; iw < win.w.end; ++iw) sum += xp[ih * g.in_w + iw];
    y[o] = sum / T(avg_pool_divisor(g, win));
  }
};

// Input element i: Σ dy[o] / divisor(o) over the outputs o whose windows cover it.
template <typename T>
struct AvgPoolBackward {
  const T* dy;
  T* dx;
  Pool2dGeometry g;
  I2V_HD void operator()(int64_t i) const {
    dx[i] = sum_over_covering_outputs<T>(
        g, i, [this](int64_t o, int64_t) { return dy[o] / T(avg_pool_divisor(g, pool_window(g, o))); });
  }
};

// Global average pooling's backward: every element of a plane of `plane_size` gets dy[plane] / plane_size.
template <typename T>
struct GlobalAvgPoolBackward {
  const T* dy;
  T* dx;
  int64_t plane_size;
  I2V_HD void operator()(int64_t i) const { dx[i] = dy[i / plane_size] / T(plane_size); }
};

}  // namespace i2v

// y [planes, out_h, out_w] = max over each window of x [planes, in_h, in_w]; argmax (same shape
// as y) = the index in its input plane of the element chosen.
I2V_DECLARE_FLOATING_KERNEL(void max_pool2d_forward(const scalar_t* x, const Pool2dGeometry& geometry, scalar_t* y,
                                                    int32_t* argmax))
// dx = dy routed to the argmax of each window (summed where windows overlap).
I2V_DECLARE_FLOATING_KERNEL(void max_pool2d_backward(const scalar_t* dy, const int32_t* argmax,
                                                     const Pool2dGeometry& geometry, scalar_t* dx))
I2V_DECLARE_FLOATING_KERNEL(void avg_pool2d_forward(const scalar_t* x, const Pool2dGeometry& geometry, scalar_t* y))
I2V_DECLARE_FLOATING_KERNEL(void avg_pool2d_backward(const scalar_t* dy, const Pool2dGeometry& geometry,
                                                     scalar_t* dx))
// y[p] = mean of plane p of x [planes, plane_size].
I2V_DECLARE_FLOATING_KERNEL(void global_avg_pool_forward(const scalar_t* x, int64_t planes, int64_t plane_size,
                                                         scalar_t* y))
// dx[p, s] = dy[p] / plane_size.
I2V_DECLARE_FLOATING_KERNEL(void global_avg_pool_backward(const scalar_t* dy, int64_t planes, int64_t plane_size,
                                                          scalar_t* dx))
