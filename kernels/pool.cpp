// Pooling on the CPU: plane by plane (one plane per task), windows walked in order, backward
// scattered output by output (see pool.h for why that matches the GPU's gather bit for bit).
#include "kernels/pool.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/reduce_cpu.h"

namespace i2v::cpu {
namespace {

// body(plane) for every plane, on all cores when the planes hold enough elements.
template <typename Body>
void for_each_plane(int64_t planes, int64_t elements, const Body& body) {
#pragma omp parallel for if (elements > (1 << 16))
  for (int64_t plane = 0; plane < planes; ++plane) body(plane);
}

// VGG's 2×2 stride-2 windows, all inside the input: window_max's comparisons in its order,
// without working out each window's bounds, in int32 and branch-free so that it vectorises
// (max pooling of 8×64×224×224 forward + backward, one thread: 91 -> 18 ms).
bool is_plain_2x2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
         2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
}

// T: float, double or bfloat16, compared in C (f32 for bf16). Index: uint8_t or int32_t
// (PoolArgmax). A row's positions go through int32 first: stored as bytes straight from the loop,
// the loop no longer vectorises (pool1's forward in i2v-tag's bf16 step at 224×224 batch 8:
// 45.7 ms so, 6.8 ms through int32).
template <typename T, typename Index, typename C = compute_t<T>>
void max_pool_2x2_plane(const T* xp, const Pool2dGeometry& g, T* y, Index* argmax) {
  std::vector<int32_t> positions(size_t(g.out_w));
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const T* upper = xp + 2 * oh * g.in_w;
    const T* lower = upper + g.in_w;
    for (int32_t ow = 0; ow < int32_t(g.out_w); ++ow) {
      C best = C(upper[2 * ow]);
      int32_t position = 0;  // in the window: 0 1 above, 2 3 below
      const C rest[3] = {C(upper[2 * ow + 1]), C(lower[2 * ow]), C(lower[2 * ow + 1])};
      for (int32_t r = 0; r < 3; ++r) {
        const bool take = rest[r] > best || rest[r] != rest[r];  // a NaN wins
        best = take ? rest[r] : best;
        position = take ? r + 1 : position;
      }
      y[oh * g.out_w + ow] = T(best);
      positions[size_t(ow)] = position;
    }
    for (int64_t ow = 0; ow < g.out_w; ++ow) argmax[oh * g.out_w + ow] = Index(positions[size_t(ow)]);
  }
}

// sums (one plane, zeroed) += each output's dy at the element its argmax names.
template <typename T, typename Index, typename C = compute_t<T>>
void max_pool_scatter_plane(const T* dy, const Index* argmax, const Pool2dGeometry& g,
                            const std::vector<int64_t>& offset_in_plane, C* sums) {
  for (int64_t oh = 0, o = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) {
      const int64_t corner = (oh * g.stride_h - g.pad_h) * g.in_w + ow * g.stride_w - g.pad_w;
      sums[corner + offset_in_plane[size_t(argmax[o])]] += C(dy[o]);
    }
}

}  // namespace

template <typename T>
void max_pool2d_forward(const T* x, const Pool2dGeometry& g, T* y, const PoolArgmax& argmax) {
  const bool plain_2x2 = is_plain_2x2(g);
  for_each_plane(g.planes, g.planes * g.in_h * g.in_w, [&](int64_t plane) {
    const T* xp = x + plane * g.in_h * g.in_w;
    int64_t o = plane * g.out_h * g.out_w;
    if (plain_2x2 && argmax.bytes) return max_pool_2x2_plane(xp, g, y + o, argmax.bytes + o);
    if (plain_2x2) return max_pool_2x2_plane(xp, g, y + o, argmax.words + o);
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) {
        const auto best = window_max(xp, g, pool_window(g, oh, ow));
        y[o] = T(best.value);
        argmax.set(o, best.position);
      }
  });
}

template <typename T>
void max_pool2d_backward(const T* dy, const PoolArgmax& argmax, const Pool2dGeometry& g, T* dx) {
  using C = compute_t<T>;
  const int64_t plane_size = g.in_h * g.in_w;
  // Where each window position lies from the window's corner, in the plane.
  std::vector<int64_t> offset_in_plane(size_t(g.kernel_h * g.kernel_w));
  for (int64_t position = 0; position < g.kernel_h * g.kernel_w; ++position)
    offset_in_plane[size_t(position)] = position / g.kernel_w * g.in_w + position % g.kernel_w;
  for_each_plane(g.planes, g.planes * plane_size, [&](int64_t plane) {
    T* dxp = dx + plane * plane_size;
    const int64_t first = plane * g.out_h * g.out_w;
    const auto scatter = [&](C* sums) {
      std::fill(sums, sums + plane_size, C(0));
      if (argmax.bytes)
        max_pool_scatter_plane(dy + first, argmax.bytes + first, g, offset_in_plane, sums);
      else
        max_pool_scatter_plane(dy + first, argmax.words + first, g, offset_in_plane, sums);
    };
    if constexpr (std::is_same<T, C>::value) {
      scatter(dxp);
    } else {  // bf16: summed in a plane of f32, each sum rounded once
      thread_local std::vector<C> sums;
      sums.resize(size_t(plane_size));
      scatter(sums.data());
      for (int64_t i = 0; i < plane_size; ++i) dxp[i] = T(sums[size_t(i)]);
    }
  });
}

void max_pool2d_forward(const bfloat16* x, const Pool2dGeometry& g, bfloat16* y, const PoolArgmax& argmax) {
  max_pool2d_forward<bfloat16>(x, g, y, argmax);
}

void max_pool2d_backward(const bfloat16* dy, const PoolArgmax& argmax, const Pool2dGeometry& g, bfloat16* dx) {
  max_pool2d_backward<bfloat16>(dy, argmax, g, dx);
}

template <typename T>
void avg_pool2d_forward(const T* x, const Pool2dGeometry& g, T* y) {
  for_each_plane(g.planes, g.planes * g.in_h * g.in_w, [&](int64_t plane) {
    const T* xp = x + plane * g.in_h * g.in_w;
    int64_t o = plane * g.out_h * g.out_w;
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) y[o] = window_mean(xp, g, pool_window(g, oh, ow));
  });
}

template <typename T>
void avg_pool2d_backward(const T* dy, const Pool2dGeometry& g, T* dx) {
  for_each_plane(g.planes, g.planes * g.in_h * g.in_w, [&](int64_t plane) {
    T* dxp = dx + plane * g.in_h * g.in_w;
    std::fill(dxp, dxp + g.in_h * g.in_w, T(0));
    int64_t o = plane * g.out_h * g.out_w;
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow, ++o) {
        const PoolWindow win = pool_window(g, oh, ow);
        const T share = dy[o] / avg_pool_divisor<T>(g, win);
        for (int64_t ih = win.h.begin; ih < win.h.end; ++ih)
          for (int64_t iw = win.w.begin; iw < win.w.end; ++iw) dxp[ih * g.in_w + iw] += share;
      }
  });
}

template <typename T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t plane_size, T* y) {
  channel_sums<1>(ElementValues<T>{x}, 1, planes, plane_size, T(1) / T(plane_size), y);
}

template <typename T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t plane_size, T* dx) {
  for_each_plane(planes, planes * plane_size, [&](int64_t plane) {
    std::fill(dx + plane * plane_size, dx + (plane + 1) * plane_size, dy[plane] / T(plane_size));
  });
}

#define I2V_INSTANTIATE(T)                                                                   \
  template void max_pool2d_forward<T>(const T*, const Pool2dGeometry&, T*, const PoolArgmax&);   \
  template void max_pool2d_backward<T>(const T*, const PoolArgmax&, const Pool2dGeometry&, T*); \
  template void avg_pool2d_forward<T>(const T*, const Pool2dGeometry&, T*);                  \
  template void avg_pool2d_backward<T>(const T*, const Pool2dGeometry&, T*);                 \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, T*);                  \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
