// Pooling on the GPU (see pool.h): one thread per output element forward, running the window
// bodies the CPU runs; one thread per input element backward, gathering the gradients of the
// outputs whose windows cover it (so overlapping windows need no atomics).
//
// Roofline: windows of stride ≥ kernel touch each input once: 2×2 stride 2 max pooling reads
// 16 B and writes 5 B (value and a one-byte argmax) per output, ~3 TB/s on an H100 gives
// ~140 G outputs/s, memory-bound; in bf16, 8 B and 3 B, ~270 G outputs/s. Backward reads dy and
// argmax once per covering window and writes dx once.
// Global average pooling is a per-plane sum (kernels/reduce.cuh).
#include "kernels/elementwise.cuh"
#include "kernels/pool.h"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {
namespace {

// Output element o (of planes · out_h · out_w): its plane and window.
struct OutputAt {
  int64_t plane;
  PoolWindow window;
};

__device__ __forceinline__ OutputAt output_at(const Pool2dGeometry& g, int64_t o) {
  const int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h;
  return {o / (g.out_w * g.out_h), pool_window(g, oh, ow)};
}

// The outputs [first, last] of one axis whose windows cover input position i (none when last < first).
struct CoveringOutputs {
  int64_t first, last;
};

__device__ __forceinline__ CoveringOutputs covering_outputs(int64_t i, int64_t out, int64_t kernel, int64_t stride,
                                                            int64_t pad) {
  const int64_t first = i + pad < kernel ? 0 : (i + pad - kernel) / stride + 1;
  const int64_t last = (i + pad) / stride;
  return {first, last < out - 1 ? last : out - 1};
}

// Σ contribution(o, oh, ow, position) over the outputs o = (oh, ow) whose windows cover input
// element i (of planes · in_h · in_w), in increasing o; `position` is i's position in o's window
// (window_position).
template <typename Contribution>
__device__ __forceinline__ float sum_over_covering_outputs(const Pool2dGeometry& g, int64_t i,
                                                           const Contribution& contribution) {
  const int64_t iw = i % g.in_w, ih = (i / g.in_w) % g.in_h, plane = i / (g.in_w * g.in_h);
  const CoveringOutputs oh = covering_outputs(ih, g.out_h, g.kernel_h, g.stride_h, g.pad_h);
  const CoveringOutputs ow = covering_outputs(iw, g.out_w, g.kernel_w, g.stride_w, g.pad_w);
  const int64_t base = plane * g.out_h * g.out_w;
  float sum = 0.0f;
  for (int64_t h = oh.first; h <= oh.last; ++h)
    for (int64_t w = ow.first; w <= ow.last; ++w) {
      const int32_t position = int32_t((ih - (h * g.stride_h - g.pad_h)) * g.kernel_w + iw - (w * g.stride_w - g.pad_w));
      sum += contribution(base + h * g.out_w + w, h, w, position);
    }
  return sum;
}

// T: float or bfloat16, compared and summed in f32.
template <typename T>
struct MaxPoolForward {
  const T* x;
  T* y;
  PoolArgmax argmax;
  Pool2dGeometry g;
  __device__ void operator()(int64_t o) const {
    const OutputAt at = output_at(g, o);
    const WindowMax<float> best = window_max(x + at.plane * g.in_h * g.in_w, g, at.window);
    y[o] = T(best.value);
    argmax.set(o, best.position);
  }
};

template <typename T>
struct MaxPoolBackward {
  const T* dy;
  PoolArgmax argmax;
  T* dx;
  Pool2dGeometry g;
  __device__ void operator()(int64_t i) const {
    dx[i] = T(sum_over_covering_outputs(g, i, [this](int64_t o, int64_t, int64_t, int32_t position) {
      return argmax[o] == position ? float(dy[o]) : 0.0f;
    }));
  }
};

struct AvgPoolForward {
  const float* x;
  float* y;
  Pool2dGeometry g;
  __device__ void operator()(int64_t o) const {
    const OutputAt at = output_at(g, o);
    y[o] = window_mean(x + at.plane * g.in_h * g.in_w, g, at.window);
  }
};

struct AvgPoolBackward {
  const float* dy;
  float* dx;
  Pool2dGeometry g;
  __device__ void operator()(int64_t i) const {
    dx[i] = sum_over_covering_outputs(g, i, [this](int64_t o, int64_t oh, int64_t ow, int32_t) {
      return dy[o] / avg_pool_divisor<float>(g, pool_window(g, oh, ow));
    });
  }
};

struct GlobalAvgPoolBackward {
  const float* dy;
  float* dx;
  int64_t plane_size;
  __device__ void operator()(int64_t i) const { dx[i] = dy[i / plane_size] / float(plane_size); }
};

}  // namespace

void max_pool2d_forward(const float* x, const Pool2dGeometry& g, float* y, const PoolArgmax& argmax) {
  for_each_element(MaxPoolForward<float>{x, y, argmax, g}, g.planes * g.out_h * g.out_w);
}

void max_pool2d_forward(const bfloat16* x, const Pool2dGeometry& g, bfloat16* y, const PoolArgmax& argmax) {
  for_each_element(MaxPoolForward<bfloat16>{x, y, argmax, g}, g.planes * g.out_h * g.out_w);
}

void max_pool2d_backward(const float* dy, const PoolArgmax& argmax, const Pool2dGeometry& g, float* dx) {
  for_each_element(MaxPoolBackward<float>{dy, argmax, dx, g}, g.planes * g.in_h * g.in_w);
}

void max_pool2d_backward(const bfloat16* dy, const PoolArgmax& argmax, const Pool2dGeometry& g, bfloat16* dx) {
  for_each_element(MaxPoolBackward<bfloat16>{dy, argmax, dx, g}, g.planes * g.in_h * g.in_w);
}

void avg_pool2d_forward(const float* x, const Pool2dGeometry& g, float* y) {
  for_each_element(AvgPoolForward{x, y, g}, g.planes * g.out_h * g.out_w);
}

void avg_pool2d_backward(const float* dy, const Pool2dGeometry& g, float* dx) {
  for_each_element(AvgPoolBackward{dy, dx, g}, g.planes * g.in_h * g.in_w);
}

void global_avg_pool_forward(const float* x, int64_t planes, int64_t plane_size, float* y) {
  channel_sums<1>(ElementValues<float>{x}, 1, planes, plane_size, 1.0f / float(plane_size), y);
}

void global_avg_pool_backward(const float* dy, int64_t planes, int64_t plane_size, float* dx) {
  for_each_element(GlobalAvgPoolBackward{dy, dx, plane_size}, planes * plane_size);
}

}  // namespace i2v::I2V_GPU_NS
