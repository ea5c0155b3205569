#include "kernels/cpu_peak.h"

#pragma GCC diagnostic push
// GCC 12's intrinsics warn about their own _mm512_undefined_ps() (GCC bug 105593).
#if !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#include <omp.h>

#include <algorithm>
#include <chrono>

#include "kernels/cpu_features.h"

namespace i2v {
namespace {

constexpr int kAccumulators = 24;

// iterations × kAccumulators FMAs on 16-float vectors; returns a value that depends on all of them.
__attribute__((target("avx512f,fma"), noinline)) float fma_loop_avx512(float seed, long iterations) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(seed + float(i));
  const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 24
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, shift);
  float sum = 0;
  for (int i = 0; i < kAccumulators; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

// iterations × kAccumulators vdpbf16ps: each lane adds the products of two bf16 pairs.
__attribute__((target("avx512f,avx512bf16"), noinline)) float dpbf16_loop(float seed, long iterations) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(seed + float(i));
  // bf16 pairs (1, 1) and (1e-7, 1e-7) (0x3f80, 0x33d7): the sums stay finite.
  const __m512bh one = (__m512bh)_mm512_set1_epi32(0x3f803f80), tiny = (__m512bh)_mm512_set1_epi32(0x33d733d7);
  for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 24
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], one, tiny);
  float sum = 0;
  for (int i = 0; i < kAccumulators; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

// The same on 8-float vectors.
__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(float seed, long iterations) {
  __m256 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_ps(seed + float(i));
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 24
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, shift);
  alignas(32) float lanes[8];
  float sum = 0;
  for (int i = 0; i < kAccumulators; ++i) {
    _mm256_store_ps(lanes, acc[i]);
    for (float lane : lanes) sum += lane;
  }
  return sum;
}

// The best of `trials` wall times of `loop` run by `threads` threads at once.
double best_seconds(int threads, int trials, long iterations, float (*loop)(float, long)) {
  double best = 1e30;
  volatile float sink = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const auto start = std::chrono::steady_clock::now();
    float sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    sum += loop(float(omp_get_thread_num()), iterations);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count());
    sink = sink + sum;
  }
  return best;
}

}  // namespace

CpuPeak measure_fma_peak(int threads, int trials, long iterations) {
  const bool avx512 = cpu_has_avx512f();
  const int lanes = avx512 ? 16 : 8;
  const double seconds = best_seconds(threads, trials, iterations, avx512 ? fma_loop_avx512 : fma_loop_avx2);
  const double flops = double(threads) * double(iterations) * kAccumulators * lanes * 2;
  return {flops / seconds / 1e9, threads, avx512 ? "avx512" : "avx2"};
}

CpuPeak measure_dpbf16_peak(int threads, int trials, long iterations) {
  const double seconds = best_seconds(threads, trials, iterations, dpbf16_loop);
  const double flops = double(threads) * double(iterations) * kAccumulators * 16 * 2 * 2;
  return {flops / seconds / 1e9, threads, "avx512_bf16"};
}

}  // namespace i2v
