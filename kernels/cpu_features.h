// What the host CPU can run, asked once at run time, so one portable binary uses AVX-512 where
// the CPU has it and portable code elsewhere (the AVX-512 code is compiled with function target
// attributes, never with global -m flags).
#pragma once

namespace i2v {

// True when the CPU and the OS support AVX-512F (512-bit vectors, masks, FMA on zmm registers).
bool cpu_has_avx512f();

// True when the CPU also has AVX-512 BF16 (vcvtne2ps2bf16, vdpbf16ps: dot products of bfloat16
// pairs summed into fp32; Intel Cooper Lake and Sapphire Rapids on, AMD Zen 4 on).
bool cpu_has_avx512_bf16();

// For tests and benchmarks: while a CpuFeatureOff lives, its feature answers false (and so does
// AVX-512 BF16 when AVX-512F is off), so the code that asks takes the path of a CPU without it.
// Set it before the work it affects starts, not from inside a parallel region.
enum class CpuFeature { avx512f, avx512_bf16 };

class CpuFeatureOff {
 public:
  explicit CpuFeatureOff(CpuFeature feature);
  ~CpuFeatureOff();
  CpuFeatureOff(const CpuFeatureOff&) = delete;
  CpuFeatureOff& operator=(const CpuFeatureOff&) = delete;

 private:
  CpuFeature feature_;
  bool was_off_;
};

}  // namespace i2v
