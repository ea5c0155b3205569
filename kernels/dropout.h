// Dropout's mask, drawn by a counter-based generator: whether element i is kept is a pure
// function of (seed, call, i), so the CPU and the GPU draw the same mask for the same seed and
// call count, backward recomputes the mask instead of storing it, and a run replays exactly.
//
// The generator is SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of Java's
// SplittableRandom and of xoshiro): output i of the stream keyed by k is mix(k + (i + 1)·γ), with
// γ = 0x9E3779B97F4A7C15 and a 64-bit finaliser `mix`, so any element is drawn without drawing
// the ones before it. A call's key mixes the seed and the call counter. The top 24 bits of an
// output are a uniform integer u in [0, 2^24); the element is kept when u ≥ round(p · 2^24).
// Integers only: the same decision on every device, in float and in double.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

I2V_HD uint64_t splitmix64(uint64_t z) {
  z += kSplitMixGamma;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The key of the `call`-th mask drawn from `seed`.
I2V_HD uint64_t dropout_key(uint64_t seed, uint64_t call) { return splitmix64(seed ^ splitmix64(call)); }

// round(p · 2^24): the drop threshold for the 24-bit draws (p in [0, 1]).
inline uint32_t dropout_threshold(double p) { return uint32_t(p * double(1u << 24) + 0.5); }

// Whether element i of the mask keyed by `key` is kept.
I2V_HD bool dropout_keeps(uint64_t key, int64_t i, uint32_t threshold) {
  return uint32_t(splitmix64(key + uint64_t(i) * kSplitMixGamma) >> 40) >= threshold;
}

template <typename T>
struct DropoutApply {
  const T* x;
  T* y;
  uint64_t key;
  uint32_t threshold;
  T scale;
  I2V_HD void operator()(int64_t i) const { y[i] = dropout_keeps(key, i, threshold) ? x[i] * scale : T(0); }
};

}  // namespace i2v

// y[i] = x[i] · scale where element i of the mask keyed by `key` is kept, else 0. The forward
// (x the input, scale 1 / (1 − p)) and the backward (x the output gradient, same key and scale)
// are this one function. y may alias x.
I2V_DECLARE_FLOATING_KERNEL(void dropout_apply(const scalar_t* x, scalar_t* y, int64_t n, uint64_t key,
                                               uint32_t threshold, scalar_t scale))
