// What the host CPU can run, asked once at run time, so one portable binary uses AVX-512 where
// the CPU has it and portable code elsewhere (the AVX-512 code is compiled with function target
// attributes, never with global -m flags).
#pragma once

namespace i2v {

// True when the CPU and the OS support AVX-512F (512-bit vectors, masks, FMA on zmm registers).
bool cpu_has_avx512f();

}  // namespace i2v
