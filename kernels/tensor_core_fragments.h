// What the operands of the tensor-core instructions (kernels/tensor_core.cuh) hold: which matrix
// element each lane's register holds (the fragment layouts, pictured once, here), and the number
// formats tf32 and bf16 with the conversions into them, bit-exact as the hardware does them.
// Plain C++ with I2V_HD functions: kernels use the layouts to load and store fragments, the
// emulator (kernels/sim/simt.cpp) uses the very same functions to compute the instructions, and
// tests and CPU references call the conversions on the host.
//
// Source: the PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32), "Matrix Fragments for
// mma.m16n8k16 with floating point type" (.bf16), "Warp-level matrix load instruction:
// ldmatrix" and "cvt"; cross-checked against CUTLASS's cute/arch/mma_sm80.hpp and copy_sm80.hpp.
//
// ---- Fragment layouts ---------------------------------------------------------------------
// In a warp, lane = 4·g + t: g = lane / 4 ("groupID", 0..7) picks a row of A and C, or a column
// of B; t = lane % 4 ("threadID_in_group", 0..3) picks columns of A and C, or rows of B.
// A is M×K row-major ("row"), B is K×N with each lane holding elements of one column ("col"),
// C and D are M×N. A register holding two 16-bit values keeps the lower-indexed one in its low
// half (bits 0..15).
//
// mma.m16n8k8 .tf32: a[4], b[2], c[4] (one element per 32-bit register)
//
//   A 16×8            k = t      k = t+4           B 8×8       n = g
//        row g        a[0]       a[2]                  k = t      b[0]
//        row g+8      a[1]       a[3]                  k = t+4    b[1]
//
//   which lane holds a[0], rows 0..7 × k 0..3 (a[2] the same for k 4..7; a[1], a[3] for rows 8..15):
//            k=0  k=1  k=2  k=3
//     row 0   L0   L1   L2   L3
//     row 1   L4   L5   L6   L7
//      ...
//     row 7  L28  L29  L30  L31
//
// mma.m16n8k16 .bf16: a[4], b[2] hold two bf16 each (low half: the even column of A, the even
// row of B); c[4] one f32 each
//
//   A 16×16           k = 2t, 2t+1   k = 2t+8, 2t+9     B 16×8            n = g
//        row g        a[0]           a[2]                   k = 2t, 2t+1      b[0]
//        row g+8      a[1]           a[3]                   k = 2t+8, 2t+9    b[1]
//
// C and D of both shapes, 16×8 f32:
//
//                     n = 2t    n = 2t+1
//        row g        c[0]      c[1]
//        row g+8      c[2]      c[3]
//
// ldmatrix.m8n8 .b16: each of up to four 8×8 matrices of 16-bit elements is given by the
// addresses of its 8 rows (16 bytes each, 16-byte aligned, in shared memory): lanes 0..7 give
// the rows of matrix 0, lanes 8..15 of matrix 1, and so on. Register r[m] of lane 4·g + t
// receives row g, columns 2t (low half) and 2t+1 (high half) of matrix m:
//
//            cols 0,1  cols 2,3  cols 4,5  cols 6,7
//     row 0     L0        L1        L2        L3
//     row 1     L4        L5        L6        L7
//      ...
//     row 7    L28       L29       L30       L31
//
// With .trans, lane 4·g + t receives column g instead: rows 2t (low half) and 2t+1 (high half).
// So ldmatrix.x4 over a row-major 16×16 bf16 tile (lanes 0..15 giving rows 0..15 at column 0,
// lanes 16..31 rows 0..15 at column 8) yields exactly a[0..3] of mma.m16n8k16, and ldmatrix.x2
// over B stored n-major (B^T row-major) yields b[0..1]; over B stored k-major, ldmatrix.x2.trans.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/bfloat16.h"
#include "kernels/host_device.h"

namespace i2v {

// Row and column of a fragment element within its matrix.
struct FragmentCoord {
  int row, col;
};

// mma.m16n8k8 .tf32: element a[i] (i in 0..3) of A (16×8).
I2V_HD FragmentCoord mma_m16n8k8_tf32_a(int lane, int i) {
  return {lane / 4 + 8 * (i & 1), lane % 4 + 4 * (i >> 1)};
}

// mma.m16n8k8 .tf32: element b[i] (i in 0..1) of B (8×8), as (k, n).
I2V_HD FragmentCoord mma_m16n8k8_tf32_b(int lane, int i) { return {lane % 4 + 4 * i, lane / 4}; }

// mma.m16n8k16 .bf16: the e-th bf16 of A (16×16), e in 0..7: register a[e / 2], half e % 2.
I2V_HD FragmentCoord mma_m16n8k16_bf16_a(int lane, int e) {
  const int reg = e / 2, half = e % 2;
  return {lane / 4 + 8 * (reg & 1), 2 * (lane % 4) + half + 8 * (reg >> 1)};
}

// mma.m16n8k16 .bf16: the e-th bf16 of B (16×8) as (k, n), e in 0..3: register b[e / 2], half e % 2.
I2V_HD FragmentCoord mma_m16n8k16_bf16_b(int lane, int e) {
  const int reg = e / 2, half = e % 2;
  return {2 * (lane % 4) + half + 8 * reg, lane / 4};
}

// C and D of mma.m16n8k8 and mma.m16n8k16 (16×8 f32): element c[i], i in 0..3.
I2V_HD FragmentCoord mma_m16n8_c(int lane, int i) { return {lane / 4 + 8 * (i >> 1), 2 * (lane % 4) + (i & 1)}; }

// ldmatrix.m8n8 .b16: the half (0: low, 1: high) of a lane's register, as (row, column) of its
// 8×8 matrix, where row r is the one whose address lane 8·m + r gave.
I2V_HD FragmentCoord ldmatrix_m8n8_element(int lane, int half, bool trans) {
  return trans ? FragmentCoord{2 * (lane % 4) + half, lane / 4} : FragmentCoord{lane / 4, 2 * (lane % 4) + half};
}

// ---- Number formats -------------------------------------------------------------------------
// tf32: an f32 bit pattern whose low 13 mantissa bits are zero (1 sign, 8 exponent, 10 mantissa
// bits), in a 32-bit register. bf16: the upper 16 bits of an f32 (1 sign, 8 exponent, 7 mantissa);
// its conversions (to_bf16, bf16_value) and float_bits/bits_float are kernels/bfloat16.h's, the
// project's one rounding to bf16.

// cvt.rna.tf32.f32: rounds to the nearest tf32, ties away from zero. Adding half a tf32 ulp to
// the magnitude bits and truncating does it, carrying into the exponent where the mantissa
// overflows (so the largest finite values round to infinity, denormals to the smallest normal).
// Infinities and NaNs are truncated without the add: a NaN keeps its sign and its upper 10
// payload bits (one whose payload lies only in the low 13 bits would become an infinity). This is
// the add-and-mask sequence ptxas emits for the instruction on sm_86 (a published disassembly:
// IADD 0x1000 unless |x| >= inf, then LOP3 & 0xffffe000); tensor_core_test compares it with the
// instruction on whatever GPU it runs on.
I2V_HD uint32_t to_tf32(float x) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#else
  uint32_t u = float_bits(x);
  if ((u & 0x7f800000u) != 0x7f800000u) u += 0x1000u;
  return u & 0xffffe000u;
#endif
}

// cvt.rn.bf16x2.f32 d, hi, lo: two bf16 in one register, `lo` in bits 0..15 and `hi` in bits
// 16..31. (The instruction's first source goes to the upper half.)
I2V_HD uint32_t pack_bf16x2(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return uint32_t(to_bf16(lo)) | uint32_t(to_bf16(hi)) << 16;
#endif
}

// The value the tensor cores read from a tf32 operand register: its upper 19 bits (the low 13 are
// ignored, so an f32 passed without conversion is truncated toward zero).
I2V_HD float tf32_operand_value(uint32_t bits) { return bits_float(bits & 0xffffe000u); }

}  // namespace i2v
