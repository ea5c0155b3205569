// bfloat16: the upper 16 bits of an IEEE f32 (1 sign, 8 exponent, 7 mantissa bits), so it has
// f32's range (max finite 0x7f7f ≈ 3.3895e38, smallest subnormal 0x0001 = 2^-133) with 8 bits of
// precision. The one place the project converts to and from it: the tensor cores' operands
// (kernels/tensor_core_fragments.h), the emulator, tensor casts (kernels/tensor_ops.h), weight
// files and tests all call these functions, so every device rounds every value the same way.
//
//   to_bf16(float)   cvt.rn.bf16.f32, bit for bit: round to nearest, ties to even; a value at or
//                    past halfway between the largest finite bf16 and 2^128 rounds to ±inf; ±inf
//                    stay; subnormals round like any other value (f32 and bf16 share the exponent
//                    range, so the same bit arithmetic holds); every NaN becomes the canonical
//                    quiet NaN 0x7fff (the sign and payload are dropped, as the instruction does).
//   to_bf16_f64      the same rounding applied once to the double's exact value (not through an
//                    f32 first, which could round twice: 1 + 2^-8 + 2^-32 is above the tie
//                    between 1 and 1 + 2^-7 but as an f32 it is the tie itself).
//   bf16_value       exact: a bf16 is an f32 with 16 zero bits appended.
//
// Source: the PTX ISA, "cvt" (.rn, .bf16 destination); the add-and-shift below is the sequence
// PyTorch's c10/util/BFloat16.h round_to_nearest_even uses, NaN aside.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace i2v {

I2V_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

I2V_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// cvt.rn.bf16.f32: rounds to the nearest bf16, ties to even; NaN becomes the canonical 0x7fff.
I2V_HD uint16_t to_bf16(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint16_t r;
  asm("cvt.rn.bf16.f32 %0, %1;\n" : "=h"(r) : "f"(x));
  return r;
#else
  const uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  // Half an ulp, minus one unless the kept part is odd: a tie then rounds to the even neighbour.
  // A carry out of the mantissa steps the exponent (the largest values become infinity).
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
#endif
}

// A double rounded to the nearest bf16, ties to even, once. First to an f32 rounded to odd
// (truncated toward zero, the last bit set when anything was cut off): f32 keeps 16 bits more
// than bf16 everywhere in bf16's range, so the odd bit stands for "beyond the tie" exactly where
// the double was, and the f32-to-bf16 rounding then decides as the exact value would (the
// classic round-to-odd argument; Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
// proved algorithms using rounding to odd", 2008). Beyond f32's range the truncation gives the
// largest f32, which rounds to infinity; below it, the smallest subnormal, which rounds to zero.
I2V_HD uint16_t to_bf16_f64(double x) {
  float f = float(x);  // to nearest
  if (double(f) != x && x == x) {
    uint32_t u = float_bits(f);
    const double magnitude = x < 0 ? -x : x, rounded = f < 0 ? -double(f) : double(f);
    if (rounded > magnitude) u -= 1;  // rounded away from zero: one f32 step back toward it
    f = bits_float(u | 1u);
  }
  return to_bf16(f);
}

// The value of a bf16 (exact in f32).
I2V_HD float bf16_value(uint16_t bits) { return bits_float(uint32_t(bits) << 16); }

// A bf16 in memory: two bytes, the bits as to_bf16 makes them. Converting from float or double
// rounds (explicitly: bfloat16(x)); converting to float is exact (and implicit). No arithmetic:
// values are widened to f32 to compute, as the tensor cores do.
struct bfloat16 {
  uint16_t bits;

  bfloat16() = default;
  I2V_HD explicit bfloat16(float x) : bits(to_bf16(x)) {}
  I2V_HD explicit bfloat16(double x) : bits(to_bf16_f64(x)) {}
  I2V_HD operator float() const { return bf16_value(bits); }

  static I2V_HD bfloat16 from_bits(uint16_t bits) {
    bfloat16 b;
    b.bits = bits;
    return b;
  }
};
static_assert(sizeof(bfloat16) == 2, "a bfloat16 is two bytes");

// The type a kernel computes an element of T in: T itself, f32 for a bfloat16 (whose result is
// then rounded once, as it is stored: T(value)). So a kernel body written over T gives, on bf16
// tensors, the f32 kernel's result on the widened input, rounded.
template <typename T>
struct ComputeIn {
  using type = T;
};
template <>
struct ComputeIn<bfloat16> {
  using type = float;
};
template <typename T>
using compute_t = typename ComputeIn<T>::type;

}  // namespace i2v
