// The CPU per-channel sums (contract in kernels/reduce.h): one channel per task, in double, so a
// float sum over millions of elements keeps its precision. Each contiguous run of `inner`
// elements is a SIMD reduction (several partial sums in the vector lanes, added at its end).
#pragma once

#include <cstdint>

#include "kernels/reduce.h"

namespace i2v::cpu {

template <int K, typename T, typename Value>
void channel_sums(const Value& value, int64_t outer, int64_t channels, int64_t inner, T scale, T* out) {
#pragma omp parallel for if (outer * channels * inner > (1 << 16))
  for (int64_t c = 0; c < channels; ++c) {
    double total[K] = {};
    for (int64_t n = 0; n < outer; ++n) {
      const int64_t base = (n * channels + c) * inner;
      double run[K] = {};
#pragma omp simd reduction(+ : run[:K])
      for (int64_t s = 0; s < inner; ++s) {
        const Sums<T, K> v = value(base + s, c);
        for (int k = 0; k < K; ++k) run[k] += double(v.v[k]);
      }
      for (int k = 0; k < K; ++k) total[k] += run[k];
    }
    for (int k = 0; k < K; ++k) out[k * channels + c] = T(total[k] * double(scale));
  }
}

}  // namespace i2v::cpu
