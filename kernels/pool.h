// 2-D max and average pooling over NCHW planes, and global average pooling, with PyTorch's
// window rules (nn/layers/pool2d.h computes the output size the same way).
//
// Along one axis, output o pools the input positions [o·stride − pad, o·stride − pad + kernel)
// clipped to the input. Average pooling divides by the window's size clipped to the padded input
// [−pad, in + pad) when padding counts (count_include_pad, PyTorch's default), else by the number
// of input positions it covers.
//
// Forward runs the same window bodies below on both devices. Backward hands each output's
// gradient to its window (all of it to the argmax for max pooling, dy / divisor to each element
// for average pooling): the CPU scatters output by output, the GPU gathers input by input over
// the outputs covering it (no atomics). Both add an input's contributions in increasing output
// order, so they agree to the bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

struct Pool2dGeometry {
  int64_t planes = 0;  // N · C
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // average pooling only
};

// The input positions [begin, end) that output o of one axis pools, the window's size within
// the padded input (avg_pool's divisor with count_include_pad), and where the whole window
// starts, o · stride − pad (before the input where it begins in the padding).
struct PoolSpan {
  int64_t begin, end, padded_size, start;
};

I2V_HD PoolSpan pool_span(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t start = o * stride - pad;
  const int64_t padded_end = start + kernel < in + pad ? start + kernel : in + pad;
  return {start > 0 ? start : 0, start + kernel < in ? start + kernel : in, padded_end - start, start};
}

// The input spans of output (oh, ow)'s window.
struct PoolWindow {
  PoolSpan h, w;
};

I2V_HD PoolWindow pool_window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  return {pool_span(oh, g.in_h, g.kernel_h, g.stride_h, g.pad_h),
          pool_span(ow, g.in_w, g.kernel_w, g.stride_w, g.pad_w)};
}

// Input (ih, iw)'s position in the window `win` of a kernel_w-wide kernel: row-major from the
// window's start, padding included, so less than kernel_h · kernel_w.
I2V_HD int32_t window_position(const PoolWindow& win, int64_t kernel_w, int64_t ih, int64_t iw) {
  return int32_t((ih - win.h.start) * kernel_w + (iw - win.w.start));
}

// The largest value of a window of the plane `xp` and its position in the window, compared in
// C (f32 for bf16 planes: exact, a maximum is one of the values). The first element wins a tie
// and a NaN wins over numbers, as in PyTorch.
template <typename C>
struct WindowMax {
  C value;
  int32_t position;
};

template <typename T, typename C = compute_t<T>>
I2V_HD WindowMax<C> window_max(const T* xp, const Pool2dGeometry& g, const PoolWindow& win) {
  WindowMax<C> best{C(-INFINITY), window_position(win, g.kernel_w, win.h.begin, win.w.begin)};
  for (int64_t ih = win.h.begin; ih < win.h.end; ++ih)
    for (int64_t iw = win.w.begin; iw < win.w.end; ++iw) {
      const C v = C(xp[ih * g.in_w + iw]);
      if (v > best.value || std::isnan(v)) best = {v, window_position(win, g.kernel_w, ih, iw)};
    }
  return best;
}

// Max pooling's argmax, one per output: the position in its window (window_position) of the
// element the output took. A byte each where a window holds at most 256 elements (any MaxPool2d
// up to 16×16: a quarter of what an int32 index of the plane takes), else four (a global max
// pooling over a plane larger than 16×16). Exactly one of the two is set.
struct PoolArgmax {
  uint8_t* bytes = nullptr;
  int32_t* words = nullptr;

  static bool fits_bytes(const Pool2dGeometry& g) { return g.kernel_h * g.kernel_w <= 256; }
  I2V_HD void set(int64_t o, int32_t position) const {
    if (bytes)
      bytes[o] = uint8_t(position);
    else
      words[o] = position;
  }
  I2V_HD int32_t operator[](int64_t o) const { return bytes ? int32_t(bytes[o]) : words[o]; }
};

template <typename T>
I2V_HD T avg_pool_divisor(const Pool2dGeometry& g, const PoolWindow& win) {
  return T(g.count_include_pad ? win.h.padded_size * win.w.padded_size
                               : (win.h.end - win.h.begin) * (win.w.end - win.w.begin));
}

template <typename T>
I2V_HD T window_mean(const T* xp, const Pool2dGeometry& g, const PoolWindow& win) {
  T sum = T(0);
  for (int64_t ih = win.h.begin; ih < win.h.end; ++ih)
    for (int64_t iw = win.w.begin; iw < win.w.end; ++iw) sum += xp[ih * g.in_w + iw];
  return sum / avg_pool_divisor<T>(g, win);
}

}  // namespace i2v

// y [planes, out_h, out_w] = max over each window of x [planes, in_h, in_w]; argmax (as many as
// y) = the position in its window of the element chosen.
I2V_DECLARE_FLOATING_KERNEL(void max_pool2d_forward(const scalar_t* x, const Pool2dGeometry& geometry, scalar_t* y,
                                                    const PoolArgmax& argmax))
// dx = dy routed to the argmax of each window (summed where windows overlap).
I2V_DECLARE_FLOATING_KERNEL(void max_pool2d_backward(const scalar_t* dy, const PoolArgmax& argmax,
                                                     const Pool2dGeometry& geometry, scalar_t* dx))
// Max pooling on bf16 planes too (passed between layers at bf16, nn/layer.h), bit for bit the
// f32 kernels' results on the widened values, rounded: a window's maximum compared in f32 and
// stored (a NaN as the canonical one), an input's gradients summed in f32 and rounded once.
I2V_DECLARE_KERNELS(void max_pool2d_forward(const bfloat16* x, const Pool2dGeometry& geometry, bfloat16* y,
                                            const PoolArgmax& argmax);
                    void max_pool2d_backward(const bfloat16* dy, const PoolArgmax& argmax,
                                             const Pool2dGeometry& geometry, bfloat16* dx);)
I2V_DECLARE_FLOATING_KERNEL(void avg_pool2d_forward(const scalar_t* x, const Pool2dGeometry& geometry, scalar_t* y))
I2V_DECLARE_FLOATING_KERNEL(void avg_pool2d_backward(const scalar_t* dy, const Pool2dGeometry& geometry,
                                                     scalar_t* dx))
// y[p] = mean of plane p of x [planes, plane_size].
I2V_DECLARE_FLOATING_KERNEL(void global_avg_pool_forward(const scalar_t* x, int64_t planes, int64_t plane_size,
                                                         scalar_t* y))
// dx[p, s] = dy[p] / plane_size.
I2V_DECLARE_FLOATING_KERNEL(void global_avg_pool_backward(const scalar_t* dy, int64_t planes, int64_t plane_size,
                                                          scalar_t* dx))
