// Prints the machine's measured fp32 FMA peak on 1 thread and on every thread OpenMP uses (see
// fma_peak.h for how it is measured). The conv and GEMM benchmarks divide by the same number.
//
//   ./build/bench/peak_flops
#include <omp.h>

#include <cstdio>

#include "bench/fma_peak.h"

int main() {
  const int threads = omp_get_max_threads();
  for (int t : {1, threads}) {
    const i2v::bench::FmaPeak peak = i2v::bench::measure_fma_peak(t);
    std::printf("fp32 FMA peak, %d thread%s (%s, 24 accumulators, best of 7): %.1f GFLOP/s\n", t, t == 1 ? "" : "s",
                peak.isa.c_str(), peak.gflops);
    if (t == threads) break;
  }
  return 0;
}
