// Per-channel sums: the one reduction behind BatchNorm's statistics, GlobalAvgPool and the losses.
//
// A tensor is viewed as [outer, channels, inner] (NCHW: outer = N, channels = C, inner = H·W;
// a flat tensor of n elements: 1, 1, n) and reduced over outer and inner, K sums at once:
//
//     out[k · channels + c] = scale · Σ_{n, s} value(i, c).v[k],   i = (n · channels + c) · inner + s
//
// `value` is an I2V_HD functor — the per-element body, shared by the CPU and the GPU. The
// implementations are kernels/reduce_cpu.h (accumulates in double) and kernels/reduce.cuh (a
// shared-memory / warp-shuffle tree per block and a second pass over the blocks: deterministic,
// no atomics, the same bits on every run). Their summation orders differ, so CPU and GPU agree
// to rounding, not bitwise.
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace i2v {

// K values of one element, or K running sums.
template <typename T, int K>
struct Sums {
  T v[K];
};

// The value of the most common sum: the elements themselves.
template <typename T>
struct ElementValues {
  const T* x;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t /*channel*/) const { return {{x[i]}}; }
};

}  // namespace i2v
