// SGEMM for CPUs with AVX-512, in the BLIS style (Van Zee & van de Geijn, "BLIS: A Framework
// for Rapidly Instantiating BLAS Functionality", 2015). Contracts: kernels/gemm.h, and the fused
// convolution GEMMs of kernels/conv_avx512.h, whose op(B) is im2col(images) (or its transpose)
// packed straight from the images: no col matrix (29 MB per image for VGG's conv3_2) is written
// to memory and read back.
//
// Loops, outermost first, and where each operand lives:
//   jc over n in blocks of ≤ kNC   the packed kc×nc block of op(B) (≤ 4.5 or 9 MiB) stays in L3;
//                                    both threads pack it together;
//   pc over k in blocks of kc      kc = kKC, or kDeepKC when C is large (each block is one pass
//                                    over C);
//   ic over m in blocks of ≤ kMC   the packed mc×kc block of op(A) (≤ 256 or 512 KiB) stays in L2;
//                                    both threads pack it together;
//   micro-tiles of 8×48            split between the threads in contiguous runs, B-panel-major,
//                                    so a thread reuses one kc×48 B micro-panel (L1/L2) while
//                                    the 8×kc A micro-panels stream from L2.
// Row and column blocks are evened out (3136 columns: one block, not 3072 + 64, whose A would be
// packed again for 2% of the work).
// The micro-kernel holds an 8×48 tile of C in 24 zmm registers; each step of k loads 3 vectors
// of B, broadcasts 8 values of A and does 24 FMAs (2 FMA pipes × 4 cycles latency need ≥ 8
// independent accumulators). Packed panels are zero-padded to whole micro-tiles, so edges run the
// same code; the stores are masked to the rows and columns that exist. A tile whose last columns
// fit in 1 or 2 vectors runs a narrower kernel (a 196-wide GEMM wastes 6%, not 22%).
//
// In bf16 (CpuArithmetic, kernels/gemm.h) the same loops run on other panels. bf16_pairs: each
// panel is packed in fp32 into a scratch panel as above, then rounded to bf16 two depth steps at
// a time into 32-bit pairs (step p in bits 0..15, step p + 1 in 16..31, a zero pair half past an
// odd depth), and the micro-kernel does vdpbf16ps where it did FMAs: per pair of depth steps it
// loads 3 vectors of 16 B pairs, broadcasts 8 A pairs and adds 2 products into each of the 24
// accumulators; half the panel bytes, twice the FLOPs per instruction. bf16_rounded: the fp32
// panels rounded in place, the fp32 micro-kernel. Both round with to_bf16
// (kernels/tensor_core_fragments.h), in loops the compiler vectorises.
//
// bf16_amx: the bf16_pairs panels on AMX tiles. A B micro-panel [pairs][48] is three B tiles of
// 16 pairs × 16 columns read with the panel's row stride; an A micro-panel is stored as rows of
// pairs [8][pairs] (rounded and paired as above, then turned) so that 16 pairs of its 8 rows
// are one A tile; TDPBF16PS adds A tile × B tile into an 8×16 fp32 tile, three per 16 pairs.
// Depth is padded to whole tiles with zero pairs. The sums leave through a small buffer into
// the same store as the other kernels. On an Emerald Rapids core the loop runs at ~1.6 TFLOP/s
// (tile loads included), 6.7× its fp32 FMA peak: packing, not the products, then bounds a GEMM.
//
// bf16 keeps fp32's blocks (twice the depth per block measured within noise).
//
// Napkin roofline of a bf16_pairs product per core (AMD Zen 4: one zmm FMA or one zmm vdpbf16ps
// issued per cycle): 2·m·n·k FLOPs at up to 64 FLOP/cycle (16 lanes × 2 products × 2 FLOP), twice
// fp32's 32. A pair step of the micro-kernel does 8·48·2·2 = 1536 FLOPs on 3·64 B of B and 8·4 B
// of A (0.15 B/FLOP from L1/L2, half of fp32's 224 B per 768 FLOPs); the operands are read once
// per pack from memory in fp32 as before, so a product whose packing streams from DRAM (a large
// op(B) shared by few rows) gains less than 2×. Measured on VGG's GEMMs on a Zen 4: 1.67-1.91×
// fp32's speed, 66-86% of the measured vdpbf16ps peak (bench/RESULTS.md, "BF16 on the CPU").
//
// The micro-kernels live in kernels/avx512_micro_tile.h. Only functions marked I2V_AVX512 use
// AVX-512 instructions; the rest of the build stays portable and gemm() calls here only when
// cpu_has_avx512f().

#include <omp.h>

#include <algorithm>
#include <climits>

#include "kernels/avx512_micro_tile.h"
#include "kernels/conv_avx512.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/tensor_core_fragments.h"

namespace i2v::cpu {
namespace {

using namespace avx512;  // the micro-kernels, their tile sizes and panel formats


constexpr int64_t kKC = 256;                // depth of a packed block ...
constexpr int64_t kDeepKC = 512;            // ... and of one whose C is larger than kDeepC bytes
constexpr double kDeepC = 8 << 20;
constexpr int64_t kMC = 256;                // rows of a packed A block (a multiple of kMR)
constexpr int64_t kNC = 4608;               // columns of a packed B block (a multiple of kNR)
constexpr double kParallelFlops = 1 << 21;  // smaller products run on the calling thread

// ---- packing ---------------------------------------------------------------------------------

// Packs rows [0, rows) × depth [0, kc) of op(A) (rows ≤ kMR) as [kc][kMR], zero rows below.
// `a` points at the panel's first element of op(A).
I2V_AVX512 void pack_a_panel(bool trans_a, const float* a, int64_t lda, int rows, int64_t kc, float* packed) {
  if (trans_a) {  // op(A) row i, depth p is a[p * lda + i]: each depth step is a contiguous run
    const __mmask16 mask = __mmask16((1u << rows) - 1);
    for (int64_t p = 0; p < kc; ++p)
      _mm256_store_ps(packed + p * kMR, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(mask, a + p * lda)));
    return;
  }
  // op(A) row i is a contiguous run of a: transpose 16-deep blocks of the kMR rows in registers
  // (the upper 8 lanes of each transposed vector are the zero rows 8..15 and are not stored).
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int depth = int(std::min<int64_t>(16, kc - p0));
    const __mmask16 mask = __mmask16((1u << depth) - 1);
    __m512 block[16];
    for (int i = 0; i < 16; ++i)
      block[i] = i < rows ? _mm512_maskz_loadu_ps(mask, a + i * lda + p0) : _mm512_setzero_ps();
    transpose_16x16(block);
    for (int p = 0; p < depth; ++p) _mm256_store_ps(packed + (p0 + p) * kMR, _mm512_castps512_ps256(block[p]));
  }
}

// Packs depth [0, kc) × columns [0, cols) of op(B) (cols ≤ kNR) as [kc][width], width = cols
// rounded up to 16, zero columns beyond. `b` points at the panel's first element of op(B).
I2V_AVX512 void pack_b_panel(bool trans_b, const float* b, int64_t ldb, int64_t kc, int cols, float* packed) {
  const int width = (cols + 15) / 16 * 16;
  if (!trans_b) {  // op(B) depth p is a contiguous run of b
    for (int64_t p = 0; p < kc; ++p)
      for (int j = 0; j < width; j += 16) {
        const __mmask16 mask = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
        _mm512_store_ps(packed + p * width + j, _mm512_maskz_loadu_ps(mask, b + p * ldb + j));
      }
    return;
  }
  // op(B) column j is the contiguous row j of b: transpose 16×16 blocks in registers.
  for (int j0 = 0; j0 < width; j0 += 16) {
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
      const int depth = int(std::min<int64_t>(16, kc - p0));
      const __mmask16 mask = __mmask16((1u << depth) - 1);
      __m512 block[16];
      for (int j = 0; j < 16; ++j)
        block[j] = j0 + j < cols ? _mm512_maskz_loadu_ps(mask, b + (j0 + j) * ldb + p0) : _mm512_setzero_ps();
      transpose_16x16(block);
      for (int p = 0; p < depth; ++p) _mm512_store_ps(packed + (p0 + p) * width + j0, block[p]);
    }
  }
}

// op(B) packed from a stored matrix.
struct MatrixB {
  bool trans;
  const float* b;
  int64_t ldb;

  I2V_AVX512 void pack(int64_t depth0, int64_t kc, int64_t col0, int cols, float* packed) const {
    pack_b_panel(trans, trans ? b + col0 * ldb + depth0 : b + depth0 * ldb + col0, ldb, kc, cols, packed);
  }
};

// The col rows and columns of the fused products are walked with kernels/im2col.h's ColRowWalk
// and ColColumnWalk; their terms fit 32-bit lanes (conv_avx512_applies).

// The next 16 col columns of a walk, as lanes: the first `count` of them (the others are
// never inside), and whether their offsets are consecutive.
struct ColumnLanes {
  __m512i offset, h, w;
  int32_t first_offset;
  bool contiguous;
};
I2V_AVX512 ColumnLanes next_column_lanes(ColColumnWalk& column, int count) {
  alignas(64) int32_t offset[16], h[16], w[16];
  bool contiguous = true;
  for (int lane = 0; lane < 16; ++lane) {
    const Im2colTerm t = column.term();
    const bool exists = lane < count;
    offset[lane] = exists ? int32_t(t.offset) : 0;
    h[lane] = exists ? int32_t(t.h) : INT_MIN / 2;
    w[lane] = int32_t(t.w);
    if (exists) {
      contiguous = contiguous && t.offset == offset[0] + lane;
      column.next();
    }
  }
  return {_mm512_load_si512(offset), _mm512_load_si512(h), _mm512_load_si512(w), offset[0], contiguous};
}

// op(B) = im2col(images) (depth: col rows, columns: col columns; the forward GEMM) or its
// transpose (depth: col columns, columns: col rows; the weight-gradient GEMM). Offsets are
// 32-bit: the caller checks the group's images hold fewer than 2³¹ elements. 16 col columns
// whose offsets are consecutive (along an image row, and across the row breaks of a
// same-padded stride-1 convolution) are read with one masked load; others are gathered, 16
// elements under the mask of those inside the image (a gather costs many loads: without them
// the forward of VGG's 3×3 layers ran 8-20% faster, the weight gradient 1-4%).
struct Im2colB {
  const float* images;
  ConvGeometry g;
  bool transposed;

  I2V_AVX512 void pack(int64_t depth0, int64_t kc, int64_t col0, int cols, float* packed) const {
    return transposed ? pack_transposed(depth0, kc, col0, cols, packed)
                      : pack_forward(depth0, kc, col0, cols, packed);
  }

  // The weight gradient's: 16 depth steps (col columns) at a time, 16 values along them for
  // each col row of the panel, transposed in registers.
  I2V_AVX512 void pack_transposed(int64_t depth0, int64_t kc, int64_t col0, int cols, float* packed) const {
    const int vectors = (cols + 15) / 16, width = 16 * vectors;
    alignas(64) int32_t row_offset[kNR], row_h[kNR], row_w[kNR];
    ColRowWalk row(g, col0);
    for (int j = 0; j < width; ++j) {
      const Im2colTerm t = row.term();
      const bool exists = j < cols;
      row_offset[j] = exists ? int32_t(t.offset) : 0;
      row_h[j] = exists ? int32_t(t.h) : INT_MIN / 2;
      row_w[j] = int32_t(t.w);
      if (exists) row.next();
    }
    const __m512i height = _mm512_set1_epi32(int32_t(g.height)), width_v = _mm512_set1_epi32(int32_t(g.width));
    ColColumnWalk column(g, depth0);
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
      const int depth = int(std::min<int64_t>(16, kc - p0));
      const ColumnLanes steps = next_column_lanes(column, depth);
      const float* first = images + steps.first_offset;
      for (int v = 0; v < vectors; ++v) {
        __m512 block[16];
        for (int j = 0; j < 16; ++j) {
          const int r = 16 * v + j;
          const __mmask16 inside =
              _mm512_cmplt_epu32_mask(_mm512_add_epi32(steps.h, _mm512_set1_epi32(row_h[r])), height) &
              _mm512_cmplt_epu32_mask(_mm512_add_epi32(steps.w, _mm512_set1_epi32(row_w[r])), width_v);
          block[j] = steps.contiguous
                         ? _mm512_maskz_loadu_ps(inside, first + row_offset[r])
                         : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside,
                                                    _mm512_add_epi32(steps.offset, _mm512_set1_epi32(row_offset[r])),
                                                    images, 4);
        }
        transpose_16x16(block);
        for (int p = 0; p < depth; ++p) _mm512_store_ps(packed + (p0 + p) * width + 16 * v, block[p]);
      }
    }
  }

  // The forward's: a panel's columns are 16-lane vectors of terms computed once; each depth
  // step (a col row) adds its term.
  I2V_AVX512 void pack_forward(int64_t depth0, int64_t kc, int64_t col0, int cols, float* packed) const {
    const int vectors = (cols + 15) / 16, width = 16 * vectors;
    ColumnLanes columns[kMaxVectors];
    ColColumnWalk column(g, col0);
    for (int v = 0; v < vectors; ++v) columns[v] = next_column_lanes(column, cols - 16 * v);
    const __m512i height = _mm512_set1_epi32(int32_t(g.height)), width_v = _mm512_set1_epi32(int32_t(g.width));
    ColRowWalk depth(g, depth0);
    for (int64_t p = 0; p < kc; ++p, depth.next()) {
      const Im2colTerm t = depth.term();
      for (int v = 0; v < vectors; ++v) {
        // Unsigned comparisons test 0 ≤ x < size at once.
        const __mmask16 inside =
            _mm512_cmplt_epu32_mask(_mm512_add_epi32(columns[v].h, _mm512_set1_epi32(int32_t(t.h))), height) &
            _mm512_cmplt_epu32_mask(_mm512_add_epi32(columns[v].w, _mm512_set1_epi32(int32_t(t.w))), width_v);
        if (columns[v].contiguous) {
          _mm512_store_ps(packed + p * width + 16 * v,
                          _mm512_maskz_loadu_ps(inside, images + (int64_t(columns[v].first_offset) + t.offset)));
          continue;
        }
        const __m512i index = _mm512_add_epi32(columns[v].offset, _mm512_set1_epi32(int32_t(t.offset)));
        _mm512_store_ps(packed + p * width + 16 * v,
                        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, index, images, 4));
      }
    }
  }
};

// ---- packing in bf16 --------------------------------------------------------------------------

// Rounds a packed fp32 panel to bf16 values in place (bf16_rounded).
I2V_AVX512 void round_to_bf16(float* __restrict panel, int64_t count) {
  for (int64_t i = 0; i < count; ++i) panel[i] = bf16_value(to_bf16(panel[i]));
}

// Rounds a packed fp32 panel [kc][width] to bf16 pairs [(kc + 1) / 2][width] (bf16_pairs).
I2V_AVX512 void pair_bf16(const float* __restrict panel, int64_t kc, int width, uint32_t* __restrict pairs) {
  for (int64_t p = 0; p + 1 < kc; p += 2) {
    const float* even = panel + p * width;
    const float* odd = even + width;
    uint32_t* out = pairs + p / 2 * width;
    for (int j = 0; j < width; ++j) out[j] = pack_bf16x2(even[j], odd[j]);
  }
  if (kc % 2 != 0) {
    const float* last = panel + (kc - 1) * width;
    uint32_t* out = pairs + kc / 2 * width;
    for (int j = 0; j < width; ++j) out[j] = pack_bf16x2(last[j], 0.0f);
  }
}

// bf16_amx: a panel of pairs [(kc + 1) / 2][width] padded with zero pairs to `depth` rows, and
// an A panel ([depth][kMR]) turned into rows of pairs ([kMR][depth]).
I2V_AVX512 void pad_pairs(uint32_t* pairs, int64_t kc, int64_t depth, int width) {
  std::fill(pairs + (kc + 1) / 2 * width, pairs + depth * width, 0u);
}
I2V_AVX512 void transpose_a_pairs(const uint32_t* __restrict by_pair, int64_t depth, uint32_t* __restrict by_row) {
  for (int i = 0; i < kMR; ++i)
    for (int64_t p = 0; p < depth; ++p) by_row[i * depth + p] = by_pair[p * kMR + i];
}

enum class PanelOf { a, b };

// Packs one panel of depth kc and `width` columns (rows of A) at `packed`, in the arithmetic's
// format: `pack(out)` writes it in fp32 as [kc][width].
template <typename Pack>
I2V_AVX512 void pack_panel(CpuArithmetic arithmetic, PanelOf of, int64_t kc, int width, const Pack& pack,
                           float* packed, float* scratch) {
  switch (arithmetic) {
    case CpuArithmetic::bf16_amx: {
      pack(scratch);
      const int64_t depth = packed_depth(arithmetic, kc);
      auto* pairs = reinterpret_cast<uint32_t*>(packed);
      if (of == PanelOf::b) {
        pair_bf16(scratch, kc, width, pairs);
        pad_pairs(pairs, kc, depth, width);
        return;
      }
      alignas(64) uint32_t by_pair[kDeepKC / 2 * kMR];
      pair_bf16(scratch, kc, width, by_pair);
      pad_pairs(by_pair, kc, depth, width);
      transpose_a_pairs(by_pair, depth, pairs);
      return;
    }
    case CpuArithmetic::fp32:
      pack(packed);
      return;
    case CpuArithmetic::bf16_rounded:
      pack(packed);
      round_to_bf16(packed, kc * width);
      return;
    case CpuArithmetic::bf16_pairs:
      pack(scratch);
      pair_bf16(scratch, kc, width, reinterpret_cast<uint32_t*>(packed));
      return;
  }
}

// ---- the macro-kernel ------------------------------------------------------------------------


// Runs micro-tiles [first, last) of a packed mc×kc A block and kc×nc B block (tile t is B panel
// t / a_panels, A panel t % a_panels) into the matching mc×nc block of C. `depth` is the panels'
// rows: packed_depth(arithmetic, kc).
I2V_AVX512 void run_tiles(CpuArithmetic arithmetic, int64_t first, int64_t last, int64_t mc, int64_t nc,
                          int64_t depth, const float* packed_a, const float* packed_b, float* c, int64_t ldc,
                          float alpha, float beta) {
  const int64_t a_panels = (mc + kMR - 1) / kMR;
  if (arithmetic == CpuArithmetic::bf16_amx) configure_tiles();
  // By the tile's width in vectors: a tile whose last columns fit in fewer runs a narrower kernel.
  const MicroTile kernels[kMaxVectors] = {micro_kernel<1>(arithmetic), micro_kernel<2>(arithmetic),
                                          micro_kernel<3>(arithmetic)};
  for (int64_t t = first; t < last; ++t) {
    const int64_t jp = t / a_panels, ip = t % a_panels;
    const int rows = int(std::min<int64_t>(kMR, mc - ip * kMR));
    const int cols = int(std::min<int64_t>(kNR, nc - jp * kNR));
    const float* a = packed_a + ip * depth * kMR;
    const float* b = packed_b + jp * depth * kNR;
    float* out = c + ip * kMR * ldc + jp * kNR;
    kernels[(cols + 15) / 16 - 1](depth, a, b, out, ldc, rows, cols, alpha, beta);
  }
}

// The size of the blocks that split `size` into as few blocks of at most `most` as possible,
// evened out and rounded up to a multiple of `unit`.
int64_t even_block(int64_t size, int64_t most, int64_t unit) {
  const int64_t blocks = (size + most - 1) / most;
  const int64_t block = (size + blocks - 1) / blocks;
  return (block + unit - 1) / unit * unit;
}

// C = beta · C (zeros when beta == 0, without reading C).
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

// The rows [row0, row0 + m) × columns [col0, col0 + n) of C = alpha · op(A) · op(B) + beta · C,
// on the calling thread, with its own packed blocks.
template <typename PackB>
I2V_AVX512 void gemm_part(CpuArithmetic arithmetic, bool trans_a, int64_t row0, int64_t m, int64_t col0, int64_t n,
                          int64_t k, int64_t depth_block, float alpha, const float* a, int64_t lda, const PackB& b,
                          float beta, float* c, int64_t ldc) {
  const int64_t column_block = even_block(n, kNC, kNR), row_block = even_block(m, kMC, kMR);
  // Where this thread packs into: an A block and a B block (4-byte elements: fp32, or bf16
  // pairs), and one fp32 panel that the bf16 formats round from.
  const int64_t most_depth = std::min(depth_block, k), most_packed_depth = packed_depth(arithmetic, most_depth);
  const PackingSpace a_block(row_block * most_packed_depth), b_block(column_block * most_packed_depth);
  const PackingSpace panel(most_depth * kNR);
  float* packed_a = a_block.of();
  float* packed_b = b_block.of();
  float* scratch = panel.of();
  for (int64_t jc = col0; jc < col0 + n; jc += column_block) {
    const int64_t nc = std::min(column_block, col0 + n - jc), b_panels = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < k; pc += depth_block) {
      const int64_t kc = std::min(depth_block, k - pc), depth = packed_depth(arithmetic, kc);
      const float block_beta = pc == 0 ? beta : 1.0f;  // later depth blocks add to the first
      for (int64_t jp = 0; jp < b_panels; ++jp) {
        const int64_t j = jc + jp * kNR;
        const int cols = int(std::min<int64_t>(kNR, col0 + n - j));
        pack_panel(
            arithmetic, PanelOf::b, kc, (cols + 15) / 16 * 16, [&](float* out) { b.pack(pc, kc, j, cols, out); },
            packed_b + jp * depth * kNR, scratch);
      }
      for (int64_t ic = row0; ic < row0 + m; ic += row_block) {
        const int64_t mc = std::min(row_block, row0 + m - ic), a_panels = (mc + kMR - 1) / kMR;
        for (int64_t ip = 0; ip < a_panels; ++ip) {
          const int64_t i = ic + ip * kMR;
          const float* panel = trans_a ? a + pc * lda + i : a + i * lda + pc;
          const int rows = int(std::min<int64_t>(kMR, row0 + m - i));
          pack_panel(
              arithmetic, PanelOf::a, kc, kMR, [&](float* out) { pack_a_panel(trans_a, panel, lda, rows, kc, out); },
              packed_a + ip * depth * kMR, scratch);
        }
        run_tiles(arithmetic, 0, a_panels * b_panels, mc, nc, depth, packed_a, packed_b, c + ic * ldc + jc, ldc,
                  alpha, block_beta);
      }
    }
  }
}

// C = alpha · op(A) · op(B) + beta · C with op(B) packed by `b` (MatrixB or Im2colB).
// The threads split C in contiguous parts of whole micro-tiles, along its columns when it has
// at least as many columns as rows and along its rows otherwise, and each computes its part
// alone (gemm_part): no barriers, at the price of packing the operand that the parts share
// (op(A) when split by columns, op(B) by rows) on every thread, which splitting the longer side
// keeps the smaller. Each element of C is summed in the same order whatever the split.
template <typename PackB>
void blocked_gemm(CpuArithmetic arithmetic, bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const PackB& b, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) return scale_c(m, n, beta, c, ldc);
  const bool parallel = 2.0 * double(m) * double(n) * double(k) >= kParallelFlops;
  // Every depth block reads and writes all of C: 8 bytes per 2·depth FLOPs. A C that does not
  // stay in L3 next to the operands (a weight gradient, a col gradient) comes from DRAM, and
  // twice the depth halves that traffic (VGG conv4_2's backward: 10% faster).
  const int64_t depth_block = 4.0 * double(m) * double(n) > kDeepC ? kDeepKC : kKC;
  const bool split_columns = n >= m;
  const int64_t unit = split_columns ? kNR : kMR, units = ((split_columns ? n : m) + unit - 1) / unit;

#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t first = std::min(units * thread / threads * unit, split_columns ? n : m);
    const int64_t last = std::min(units * (thread + 1) / threads * unit, split_columns ? n : m);
    if (last > first) {
      if (split_columns)
        gemm_part(arithmetic, trans_a, 0, m, first, last - first, k, depth_block, alpha, a, lda, b, beta, c, ldc);
      else
        gemm_part(arithmetic, trans_a, first, last - first, 0, n, k, depth_block, alpha, a, lda, b, beta, c, ldc);
    }
  }
}

}  // namespace

void gemm_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blocked_gemm(cpu_arithmetic(), trans_a, m, n, k, alpha, a, lda, MatrixB{trans_b, b, ldb}, beta, c, ldc);
}

bool conv_avx512_applies(int64_t count, const ConvGeometry& g) {
  return cpu_has_avx512f() && count * g.image_size() < (int64_t(1) << 31);
}

void conv_forward_avx512(const float* weight, int64_t out_channels, const float* images, int64_t count,
                         const ConvGeometry& g, float* y) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  blocked_gemm(cpu_arithmetic(), false, out_channels, columns, rows, 1.0f, weight, rows, Im2colB{images, g, false},
               0.0f, y, columns);
}

void conv_weight_grad_avx512(const float* dy, int64_t out_channels, const float* images, int64_t count,
                             const ConvGeometry& g, float* grad_weight) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  blocked_gemm(cpu_arithmetic(), false, out_channels, rows, columns, 1.0f, dy, columns, Im2colB{images, g, true},
               1.0f, grad_weight, rows);
}

}  // namespace i2v::cpu
