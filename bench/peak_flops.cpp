// Prints the machine's measured fp32 FMA peak on 1 thread and on every thread OpenMP uses, and
// the bf16 peak (vdpbf16ps) where the CPU has AVX-512 BF16 (see kernels/cpu_peak.h for how they are
// measured). The conv and GEMM benchmarks divide by the same numbers.
//
//   ./build/bench/peak_flops
#include <omp.h>

#include <cstdio>

#include "kernels/cpu_peak.h"
#include "kernels/cpu_features.h"

int main() {
  const int threads = omp_get_max_threads();
  for (int t : {1, threads}) {
    const i2v::CpuPeak peak = i2v::measure_fma_peak(t);
    std::printf("fp32 FMA peak, %d thread%s (%s, 24 accumulators, best of 7): %.1f GFLOP/s\n", t, t == 1 ? "" : "s",
                peak.isa.c_str(), peak.gflops);
    if (t == threads) break;
  }
  if (!i2v::cpu_has_avx512_bf16()) return 0;
  for (int t : {1, threads}) {
    const i2v::CpuPeak peak = i2v::measure_dpbf16_peak(t);
    std::printf("bf16 vdpbf16ps peak, %d thread%s (24 accumulators, best of 7): %.1f GFLOP/s\n", t, t == 1 ? "" : "s",
                peak.gflops);
    if (t == threads) break;
  }
  return 0;
}
