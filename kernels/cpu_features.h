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

// True when the CPU has AMX with BF16 (tile registers and TDPBF16PS: a 16×32 by 32×16 bf16 tile
// product into 16×16 fp32 sums; Intel Sapphire Rapids on) and AVX-512F, and Linux lets this
// process use the tiles (asked once: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)).
bool cpu_has_amx_bf16();

// For tests and benchmarks: while a CpuFeatureOff lives, its feature answers false (and so do
// AVX-512 BF16 and AMX when AVX-512F is off), so the code that asks takes the path of a CPU
// without it. Set it before the work it affects starts, not from inside a parallel region.
enum class CpuFeature { avx512f, avx512_bf16, amx_bf16 };

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
