// The machine's fp32 peak, measured rather than taken from a data sheet: every thread runs a loop
// of independent fused multiply-adds on the widest vectors the CPU has (AVX-512: 16 floats,
// AVX2: 8), with 24 accumulators, more than FMA latency × FMA pipes (4 × 2 on current cores), so
// the loop is bound by FMA throughput alone. Peak = threads × FMAs × vector lanes × 2 FLOP /
// seconds, the best of several trials (other processes only ever make a trial slower).
//
// The bf16 peak the same way, on CPUs with AVX-512 BF16: 24 independent vdpbf16ps on zmm
// registers (each 16 lanes × 2 products × 2 FLOP = 64 FLOP, twice an fp32 FMA's 32).
//
// The benchmarks report their results against these peaks; cpu_arithmetic() (kernels/gemm.h)
// measures both once, briefly, to choose its bf16 kernel.
#pragma once

#include <string>

namespace i2v {

struct CpuPeak {
  double gflops = 0;  // fp32 GFLOP/s, all threads together
  int threads = 0;
  std::string isa;    // "avx512" or "avx2"; "avx512_bf16" for the bf16 peak
};

// Each trial runs `iterations` steps of 24 instructions on every thread (the default takes about
// a second per trial on one core).
CpuPeak measure_fma_peak(int threads, int trials = 7, long iterations = 20'000'000);
// Requires cpu_has_avx512_bf16() (kernels/cpu_features.h). gflops counts bf16 dot-product FLOPs.
CpuPeak measure_dpbf16_peak(int threads, int trials = 7, long iterations = 20'000'000);

}  // namespace i2v
