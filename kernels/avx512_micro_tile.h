// The AVX-512 GEMM's micro-kernels and the format of the panels they read, shared by the packed
// GEMM and fused convolutions (kernels/gemm_avx512.cpp) and the Winograd convolutions
// (kernels/conv_winograd_avx512.cpp). Each multiplies a packed panel of A (kMR rows) by a packed
// panel of B (up to kNR columns) into a tile of C:
//   fp32 / bf16_rounded  A [depth][kMR], B [depth][16·vectors] in fp32; FMAs;
//   bf16_pairs           the same layouts with two bf16 of consecutive depth steps in each 32-bit
//                        element (step p in bits 0..15, p + 1 in 16..31); vdpbf16ps;
//   bf16_amx             B as bf16_pairs, A as rows of pairs [kMR][depth]; AMX tiles.
// Also the 16×16 transpose in registers that packing uses.
// Only functions marked I2V_AVX512 use AVX-512 instructions (I2V_AVX512_BF16 also AVX-512 BF16,
// I2V_AMX_BF16 the tiles); callers reach them only on a CPU that has them.
#pragma once

// GCC 12's intrinsics warn about their own _mm512_undefined_ps() (GCC bug 105593).
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "base/error.h"
#include "kernels/allocator.h"
#include "kernels/gemm.h"

#define I2V_AVX512 __attribute__((target("avx512f,fma")))
#define I2V_AVX512_BF16 __attribute__((target("avx512f,avx512bf16,fma")))
#define I2V_AMX_BF16 __attribute__((target("avx512f,fma,amx-tile,amx-bf16")))

namespace i2v::cpu::avx512 {

// Packing space for one call: `floats` for each of `threads` threads, in 64-byte-aligned slices of
// one block from the cpu allocator (kernels/allocator.h). Its cache hands the same block to the
// next call, so panels are not faulted in again, and its stats count the space while it is used.
class PackingSpace {
 public:
  explicit PackingSpace(int64_t floats, int threads = 1)
      : stride_((floats + 15) / 16 * 16), block_(Device::cpu(), size_t(stride_ * threads) * sizeof(float)) {}
  float* of(int thread = 0) const { return block_.as<float>() + stride_ * thread; }

 private:
  int64_t stride_;  // floats of a slice
  Scratch block_;
};

constexpr int kMR = 8;                      // rows of a micro-tile
constexpr int kMaxVectors = 3;              // 16-float vectors across a micro-tile
constexpr int kNR = 16 * kMaxVectors;       // columns of a micro-tile

// Pairs of depth steps in one AMX tile row: 64 bytes.
constexpr int64_t kTilePairs = 16;

// Rows of a packed panel of depth kc: one per depth step in fp32, one per pair in bf16_pairs,
// and as many pairs as whole tiles take in bf16_amx (the last ones zero).
inline int64_t packed_depth(CpuArithmetic arithmetic, int64_t kc) {
  switch (arithmetic) {
    case CpuArithmetic::bf16_pairs: return (kc + 1) / 2;
    case CpuArithmetic::bf16_amx: return ((kc + 1) / 2 + kTilePairs - 1) / kTilePairs * kTilePairs;
    default: return kc;
  }
}

// ---- the micro-kernels -----------------------------------------------------------------------

// C[0:rows, 0:cols] = alpha · acc + beta · C for a tile of kVectors vectors across (cols ≤
// 16·kVectors): the end of both micro-kernels.
template <int kVectors>
I2V_AVX512 __attribute__((always_inline)) inline void store_tile(__m512 (&acc)[kMR][kVectors], float* c,
                                                                 int64_t ldc, int rows, int cols, float alpha,
                                                                 float beta) {
  const int last_columns = cols - 16 * (kVectors - 1);  // 1..16
  const __mmask16 last_mask = __mmask16((1u << last_columns) - 1);
  const __m512 alpha_v = _mm512_set1_ps(alpha), beta_v = _mm512_set1_ps(beta);
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (i == rows) break;
#pragma GCC unroll 3
    for (int j = 0; j < kVectors; ++j) {
      const __mmask16 mask = j + 1 < kVectors ? __mmask16(0xFFFF) : last_mask;
      float* out = c + i * ldc + 16 * j;
      __m512 result = _mm512_mul_ps(acc[i][j], alpha_v);
      if (beta != 0.0f) result = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mask, out), result);
      _mm512_mask_storeu_ps(out, mask, result);
    }
  }
}

// C[0:rows, 0:cols] = alpha · (packed A panel · packed B panel) + beta · C, for a panel of kVectors
// vectors across (cols ≤ 16·kVectors). packed_a is [kc][kMR], packed_b is [kc][16·kVectors].
template <int kVectors>
I2V_AVX512 void micro_tile(int64_t kc, const float* __restrict packed_a, const float* __restrict packed_b, float* c,
                           int64_t ldc, int rows, int cols, float alpha, float beta) {
  constexpr int kWidth = 16 * kVectors;
  __m512 acc[kMR][kVectors];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_setzero_ps();

  for (int64_t p = 0; p < kc; ++p) {
    __m512 b[kVectors];
#pragma GCC unroll 3
    for (int j = 0; j < kVectors; ++j) b[j] = _mm512_load_ps(packed_b + p * kWidth + 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      const __m512 a = _mm512_set1_ps(packed_a[p * kMR + i]);
#pragma GCC unroll 3
      for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  store_tile<kVectors>(acc, c, ldc, rows, cols, alpha, beta);
}

// The same on bf16 pairs: packed_a is [pairs][kMR], packed_b is [pairs][16·kVectors], each
// element two bf16 of consecutive depth steps. vdpbf16ps adds, lane by lane, the products of
// both halves: the broadcast A pair of row i times the B pair of each column.
template <int kVectors>
I2V_AVX512_BF16 void micro_tile_bf16(int64_t pairs, const uint32_t* __restrict packed_a,
                                     const uint32_t* __restrict packed_b, float* c, int64_t ldc, int rows, int cols,
                                     float alpha, float beta) {
  constexpr int kWidth = 16 * kVectors;
  __m512 acc[kMR][kVectors];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_setzero_ps();

  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh b[kVectors];
#pragma GCC unroll 3
    for (int j = 0; j < kVectors; ++j) b[j] = (__m512bh)_mm512_load_si512(packed_b + p * kWidth + 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(packed_a[p * kMR + i]));
#pragma GCC unroll 3
      for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a, b[j]);
    }
  }
  store_tile<kVectors>(acc, c, ldc, rows, cols, alpha, beta);
}

// The same on AMX tiles: packed_a is [kMR][pairs] (each row's pairs in a row, as a tile takes
// A), packed_b is [pairs][16·kVectors] as above, pairs a multiple of kTilePairs. Tiles: 0..2 the
// 8×16 fp32 sums of the kVectors column blocks, 3 the A tile (8 rows × 16 pairs), 4..6 the B
// tiles (16 pairs × 16 columns, one row of the packed panel each, read with its stride). The
// sums leave the tiles through a buffer into store_tile.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig tile_config() {
  TileConfig config;
  for (int t = 0; t < 7; ++t) {
    config.rows[t] = t < 4 ? kMR : kTilePairs;
    config.bytes_per_row[t] = 64;
  }
  return config;
}

// Each thread that runs micro_tile_amx loads this once per call of run_tiles. The configuration
// is a constant in memory: GCC 12 does not see that ldtilecfg reads its operand, and drops the
// stores of a configuration filled on the stack (which then configures no tile).
I2V_AMX_BF16 inline void configure_tiles() {
  static constexpr TileConfig kConfig = tile_config();
  _tile_loadconfig(&kConfig);
}

template <int kVectors>
I2V_AMX_BF16 void micro_tile_amx(int64_t pairs, const uint32_t* __restrict packed_a,
                                 const uint32_t* __restrict packed_b, float* c, int64_t ldc, int rows, int cols,
                                 float alpha, float beta) {
  constexpr int kWidth = 16 * kVectors;
  _tile_zero(0);
  if constexpr (kVectors > 1) _tile_zero(1);
  if constexpr (kVectors > 2) _tile_zero(2);
  for (int64_t p = 0; p < pairs; p += kTilePairs) {
    _tile_loadd(3, packed_a + p, pairs * 4);
    const uint32_t* b = packed_b + p * kWidth;
    _tile_loadd(4, b, kWidth * 4);
    _tile_dpbf16ps(0, 3, 4);
    if constexpr (kVectors > 1) {
      _tile_loadd(5, b + 16, kWidth * 4);
      _tile_dpbf16ps(1, 3, 5);
    }
    if constexpr (kVectors > 2) {
      _tile_loadd(6, b + 32, kWidth * 4);
      _tile_dpbf16ps(2, 3, 6);
    }
  }
  alignas(64) float sums[kMR][kWidth];
  _tile_stored(0, &sums[0][0], kWidth * 4);
  if constexpr (kVectors > 1) _tile_stored(1, &sums[0][16], kWidth * 4);
  if constexpr (kVectors > 2) _tile_stored(2, &sums[0][32], kWidth * 4);
  __m512 acc[kMR][kVectors];
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_load_ps(&sums[i][16 * j]);
  store_tile<kVectors>(acc, c, ldc, rows, cols, alpha, beta);
}

// A micro-kernel over packed panels of 4-byte elements (fp32, or bf16 pairs).
using MicroTile = void (*)(int64_t depth, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
                           float alpha, float beta);

// The micro-kernel of `arithmetic` for tiles kVectors vectors wide.
template <int kVectors>
MicroTile micro_kernel(CpuArithmetic arithmetic) {
  switch (arithmetic) {
    case CpuArithmetic::bf16_amx:
      return [](int64_t depth, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols, float alpha,
                float beta) {
        micro_tile_amx<kVectors>(depth, reinterpret_cast<const uint32_t*>(a), reinterpret_cast<const uint32_t*>(b), c,
                                 ldc, rows, cols, alpha, beta);
      };
    case CpuArithmetic::bf16_pairs:
      return [](int64_t depth, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols, float alpha,
                float beta) {
        micro_tile_bf16<kVectors>(depth, reinterpret_cast<const uint32_t*>(a), reinterpret_cast<const uint32_t*>(b), c,
                                  ldc, rows, cols, alpha, beta);
      };
    case CpuArithmetic::fp32:
    case CpuArithmetic::bf16_rounded:
      break;
  }
  return micro_tile<kVectors>;
}

// ---- packing ---------------------------------------------------------------------------------

// Transposes 16 vectors in place: rows[r] lane c becomes rows[c] lane r.
I2V_AVX512 inline void transpose_16x16(__m512 rows[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
  }
  // u[4g + q], 128-bit lane L: column 4L + q of rows 4g..4g+3.
  for (int g = 0; g < 4; ++g) {
    const __m512d lo0 = _mm512_castps_pd(t[4 * g]), lo1 = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d hi0 = _mm512_castps_pd(t[4 * g + 1]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  for (int q = 0; q < 4; ++q) {
    const __m512 even_lo = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);
    const __m512 even_hi = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
    const __m512 odd_lo = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xdd);
    const __m512 odd_hi = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xdd);
    rows[q] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
    rows[8 + q] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xdd);
    rows[4 + q] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
    rows[12 + q] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xdd);
  }
}

}  // namespace i2v::cpu::avx512
