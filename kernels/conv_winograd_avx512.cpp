// Winograd F(2×2, 3×3) convolutions on AVX-512 at bf16 (kernels/conv_avx512.h). Source: Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), whose matrices these are:
//
//        ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//   Bᵀ = ⎢0  1  1  0⎥    G = ⎢ ½    ½    ½ ⎥    Aᵀ = ⎡1  1  1  0⎤
//        ⎢0 −1  1  0⎥        ⎢ ½   −½    ½ ⎥         ⎣0  1 −1 −1⎦
//        ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//
// A 2×2 block of outputs (a tile) of one channel pair is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with g the
// 3×3 filter and d the 4×4 input patch under the tile (padding 1: its corner is one pixel up and
// left of the tile's). Summed over input channels, the 16 element-wise products become 16 matrix
// products, one per position ξ of the 4×4 transform:
//     M_ξ[row][tile] = Σ_depth U_ξ[row][depth] · V_ξ[depth][tile]
// U = G g Gᵀ (the weights, transformed once per call) and V = Bᵀ d B (the input, per tile). They
// do 16 products per 4 outputs where the direct convolution does 36: 2.25× fewer. The input
// gradient is the same computation on dy with the filters turned by 180° and transposed; the
// weight gradient is the forward's adjoint (its own section below).
//
// Numbers (what the tests check against a double reference): the transformed values computed in
// fp32 and rounded to bf16 as they are packed (as to_bf16 does; on the vdpbf16ps path by
// vcvtne2ps2bf16, which also reads fp32 subnormals as zero), products exact, sums in fp32 (the
// GEMM micro-kernels of kernels/avx512_micro_tile.h), the last transform in fp32. The transforms'
// adds spread each rounding over several outputs: on tests/conv_winograd_test.cpp's operands
// (uniform in [-1, 1)) the output is 3.9e-3 normwise from the exact convolution, against 2.1e-3
// for the direct bf16 product, within bf16's 1e-2. At fp32 the convolutions stay direct.
//
// Data flow of the forward and the input gradient, per block of 48 tiles (one B micro-panel), on
// one thread:
//   1. transform_input: V for every input channel, straight into the 16 B panels ([ξ][depth]
//      [48], in the micro-kernel's format), ~0.4-0.8 MiB: stays in L2.
//   2. for each panel of 8 output rows: 16 micro-tiles (one per ξ) into a 16×8×48 buffer of M
//      (24 KiB, L1), then transform_output writes the 8 rows' outputs of the 48 tiles.
// U's panels ([row panel][ξ][depth][8]) stream from L3 (2-50 MiB for VGG's layers); each is read
// once per block, 48 FLOP per byte. A thread takes whole blocks; when there are too few blocks to
// share evenly (VGG's 7×7 layers: 3 at batch 8), the threads split each block's output rows.
//
// The tiles of a block are numbered image by image, row by row (tile (n, ty, tx) is
// (n · tiles_h + ty) · tiles_w + tx); the transforms run on 16 tiles of one tile row at a time,
// one per vector lane, so their 4×4 patches are contiguous runs of the image rows: four masked
// loads per row and even/odd shuffles, no gathers (only the weights' transform, once per call,
// gathers its 16 filters' taps).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "base/error.h"
#include "kernels/avx512_micro_tile.h"
#include "kernels/conv_avx512.h"
#include "kernels/cpu_features.h"

namespace i2v::cpu {
namespace {

using namespace avx512;  // the micro-kernels, their tile sizes and panel formats

constexpr int kPositions = 16;    // ξ: the 4×4 positions of a transformed tile
constexpr int kMinChannels = 16;  // shallower products are left to the direct convolution
// Fewer tiles are left to it too: the weights' transform and U's trip through memory are paid
// once per call, and below this they cost more than the products save (VGG's 7×7 layers at
// batch 8, 128 tiles: 5-20% slower than direct, which pads no 7 to 8).
constexpr int64_t kMinTiles = 256;

// The convolution as Winograd computes it: `depth` channels of height×width images in, `rows`
// channels out (the rows of the 16 products), 2×2 tiles over each image.
struct Problem {
  int64_t batch, depth, rows, height, width;
  int64_t tiles_h() const { return (height + 1) / 2; }
  int64_t tiles_w() const { return (width + 1) / 2; }
  int64_t tiles() const { return batch * tiles_h() * tiles_w(); }
};

// Where the weights of a product sit: element (row, depth, tap) of the 3×3 filter is
// weight[row · row_stride + depth · depth_stride + (flipped ? 8 − tap : tap)], tap = 3i + j.
// The forward reads weight[out][in] as it is; the input gradient correlates dy with the filters
// turned by 180°, rows = the layer's input channels, depth = its output channels.
struct WeightOrder {
  int64_t row_stride, depth_stride;
  bool flipped;
};

// ---- rounding and storing into panels ---------------------------------------------------------

// to_bf16 (kernels/bfloat16.h) on 16 lanes: each lane's bf16 in its low 16 bits.
I2V_AVX512 __m512i to_bf16_lanes(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                 _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7fff));
}

// The 16 panel rows (one per ξ) of one depth step's transformed values in bf16_rounded: the
// values rounded to bf16, as fp32.
I2V_AVX512 void rounded_rows(const __m512 (&values)[kPositions], __m512 (&rows)[kPositions]) {
  for (int xi = 0; xi < kPositions; ++xi) rows[xi] = _mm512_castsi512_ps(_mm512_slli_epi32(to_bf16_lanes(values[xi]), 16));
}

// The same in bf16_pairs from two depth steps: `even` in bits 0..15, `odd` in 16..31.
// vcvtne2ps2bf16 rounds as to_bf16 does, but reads fp32 subnormals as zero (as vdpbf16ps reads
// the bf16 ones anyway) and keeps a NaN's sign and payload: 2 instructions a row where
// to_bf16_lanes takes ~14. It gives the 16 even values then the 16 odd ones; a shuffle of 16-bit
// elements (AVX-512 BW, which every CPU with AVX-512 BF16 has) pairs them. One call for all 16
// rows: the callers lack the BF16 target, so this is not inlined into them.
__attribute__((target("avx512f,avx512bw,avx512bf16,fma"))) void pair_rows(const __m512 (&even)[kPositions],
                                                                     const __m512 (&odd)[kPositions],
                                                                     __m512 (&rows)[kPositions]) {
  alignas(64) static constexpr uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                           8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  for (int xi = 0; xi < kPositions; ++xi)
    rows[xi] = _mm512_castsi512_ps(_mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd[xi], even[xi])));
}

// The panel rows of the arithmetic's format from the values of one depth step (`odd` unused) or two.
I2V_AVX512 void panel_rows(CpuArithmetic arithmetic, const __m512 (&even)[kPositions], const __m512 (&odd)[kPositions],
                           __m512 (&rows)[kPositions]) {
  if (arithmetic == CpuArithmetic::bf16_rounded)
    rounded_rows(even, rows);
  else
    pair_rows(even, odd, rows);
}

// Depth steps per panel row: 2 in bf16_pairs, 1 in bf16_rounded.
int depth_per_row(CpuArithmetic arithmetic) { return arithmetic == CpuArithmetic::bf16_pairs ? 2 : 1; }

// ---- the weights: U = G g Gᵀ -------------------------------------------------------------------

// The 16 values of G g Gᵀ for 16 filters at once (lane l: filter l), g[tap] their 9 taps.
I2V_AVX512 void filter_transform(const __m512 (&g)[9], __m512 (&u)[kPositions]) {
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512 r[4][3];  // G g: 4 rows of 3
  for (int j = 0; j < 3; ++j) {
    const __m512 outer = _mm512_add_ps(g[j], g[6 + j]);
    r[0][j] = g[j];
    r[1][j] = _mm512_mul_ps(half, _mm512_add_ps(outer, g[3 + j]));
    r[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(outer, g[3 + j]));
    r[3][j] = g[6 + j];
  }
  for (int a = 0; a < 4; ++a) {  // (G g) Gᵀ
    const __m512 outer = _mm512_add_ps(r[a][0], r[a][2]);
    u[4 * a + 0] = r[a][0];
    u[4 * a + 1] = _mm512_mul_ps(half, _mm512_add_ps(outer, r[a][1]));
    u[4 * a + 2] = _mm512_mul_ps(half, _mm512_sub_ps(outer, r[a][1]));
    u[4 * a + 3] = r[a][2];
  }
}

// The transformed filters of 16 rows (first_row.., lanes past `rows` zero) at one depth step
// (zero at `depth` and past it: the pair half after an odd depth).
I2V_AVX512 void transformed_filters(const float* weight, const Problem& p, const WeightOrder& order,
                                    int64_t first_row, int64_t d, __m512 (&u)[kPositions]) {
  const __mmask16 lanes =
      d < p.depth ? __mmask16((1u << std::min<int64_t>(16, p.rows - first_row)) - 1) : __mmask16(0);
  const __m512i index = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(int32_t(order.row_stride)));
  const float* first = weight + first_row * order.row_stride + std::min(d, p.depth - 1) * order.depth_stride;
  __m512 g[9];
  for (int tap = 0; tap < 9; ++tap)
    g[tap] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, index, first + (order.flipped ? 8 - tap : tap), 4);
  filter_transform(g, u);
}

// U's panels: panel (row panel rp, ξ) at (rp · 16 + ξ) · packed_depth · kMR, each [depth rows]
// [kMR] in the arithmetic's format (kernels/avx512_micro_tile.h), written 16 rows at a time:
// lanes 0..7 are row panel rp's rows, 8..15 the next one's. This writes rows 16·group.. of them.
I2V_AVX512 void transform_weight_rows(CpuArithmetic arithmetic, const float* weight, const Problem& p,
                                      const WeightOrder& order, int64_t group, float* panels) {
  const int64_t depth_rows = packed_depth(arithmetic, p.depth), row_panels = (p.rows + kMR - 1) / kMR;
  const int step = depth_per_row(arithmetic);
  const int64_t rp = 2 * group;
  for (int64_t d = 0; d < p.depth; d += step) {
    __m512 even[kPositions], odd[kPositions], rows[kPositions];
    transformed_filters(weight, p, order, 16 * group, d, even);
    if (step == 2) transformed_filters(weight, p, order, 16 * group, d + 1, odd);
    panel_rows(arithmetic, even, odd, rows);
    for (int xi = 0; xi < kPositions; ++xi) {
      const __m512 row = rows[xi];
      float* out = panels + ((rp * kPositions + xi) * depth_rows + d / step) * kMR;
      _mm256_store_ps(out, _mm512_castps512_ps256(row));
      if (rp + 1 < row_panels)
        _mm256_store_ps(out + kPositions * depth_rows * kMR,
                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(row), 1)));
    }
  }
}

// ---- the tiles of a block ----------------------------------------------------------------------

// Up to 16 tiles of one tile row, one per lane: image n, tile row ty, tiles tx0.. of it; they are
// columns column.. of the block's panels.
struct TileRun {
  int64_t n, ty, tx0;
  int lanes, column;
};

// The run of tiles from tile t on, in a block whose tiles are [first, end): as many as fit in
// 16 lanes without leaving t's tile row or the block. (TileBlock lists a block's runs once; the
// transforms loop over that list rather than take a callback, since a lambda would not have the
// AVX-512 target of the function that holds it.)
TileRun tile_run(const Problem& p, int64_t first, int64_t t, int64_t end) {
  const int64_t tiles_w = p.tiles_w(), per_image = p.tiles_h() * tiles_w, tx = t % tiles_w;
  const int lanes = int(std::min<int64_t>({16, tiles_w - tx, end - t}));
  return TileRun{t / per_image, t % per_image / tiles_w, tx, lanes, int(t - first)};
}

// The lanes [begin, end) of a 16-lane vector whose lane i is element `start + i` of a run of
// `size` (its part inside [0, size)).
__mmask16 inside_mask(int64_t start, int64_t size) {
  const int64_t begin = std::clamp<int64_t>(-start, 0, 16), end = std::clamp<int64_t>(size - start, 0, 16);
  return end > begin ? __mmask16(((1u << end) - 1) & ~((1u << begin) - 1)) : __mmask16(0);
}

// ---- the input: V = Bᵀ d B ---------------------------------------------------------------------

// Where the patches of a run of tiles read, the same in every channel: a tile's patch starts at
// pixel (2ty − 1, 2tx − 1), so the lanes' patches read x0 = 2tx0 − 1 .. x0 + 33 of four rows, as
// four masked loads per row (from x0 and x0 + 16: columns s = 0, 1 after the even/odd split;
// from x0 + 2 and x0 + 18: s = 2, 3), zero outside the image.
struct PatchLoads {
  bool row_inside[4];     // whether row y = 2ty − 1 + r is in the image
  int64_t row_offset[4];  // of pixel (y, x0) in a channel (x0 may be −1)
  int64_t start[4];       // of each load from x0
  __mmask16 inside[4];    // the lanes of each load inside the image row
};

PatchLoads patch_loads(const Problem& p, const TileRun& run) {
  PatchLoads loads{};
  const int64_t x0 = 2 * run.tx0 - 1;
  for (int r = 0; r < 4; ++r) {
    const int64_t y = 2 * run.ty - 1 + r;
    loads.row_inside[r] = y >= 0 && y < p.height;
    loads.row_offset[r] = y * p.width + x0;
  }
  const int64_t starts[4] = {0, 16, 2, 18};
  for (int l = 0; l < 4; ++l) {
    loads.start[l] = starts[l];
    loads.inside[l] = inside_mask(x0 + starts[l], p.width);
  }
  return loads;
}

// Where the 2×2 output gradients of a run of tiles are, the same in every channel: rows 2ty and
// 2ty + 1 from x = 2tx0, two masked loads per row (x0 and x0 + 16), zero outside the image.
struct GradLoads {
  bool row_inside[2];
  int64_t row_offset[2];
  __mmask16 inside[2];
};

GradLoads grad_loads(const Problem& p, const TileRun& run) {
  GradLoads loads{};
  const int64_t x0 = 2 * run.tx0;
  for (int i = 0; i < 2; ++i) {
    const int64_t y = 2 * run.ty + i;
    loads.row_inside[i] = y < p.height;
    loads.row_offset[i] = y * p.width + x0;
    loads.inside[i] = inside_mask(x0 + 16 * i, p.width);
  }
  return loads;
}

// A block of tiles as the transforms walk it: its runs of ≤ 16 tiles, and where each run's input
// patches and output gradients are (the same in every channel, so found once per block).
struct TileBlock {
  int count = 0;
  std::vector<TileRun> runs;
  std::vector<PatchLoads> input_loads;
  std::vector<GradLoads> output_loads;

  void reset(const Problem& p, int64_t first, int tiles) {
    count = tiles;
    runs.clear();
    input_loads.clear();
    output_loads.clear();
    for (int64_t t = first; t < first + count; t += runs.back().lanes) {
      runs.push_back(tile_run(p, first, t, first + count));
      input_loads.push_back(patch_loads(p, runs.back()));
      output_loads.push_back(grad_loads(p, runs.back()));
    }
  }
};

// The 16 transformed patches of a run of tiles in one channel (`image`: its height × width
// pixels): v[4a + b] lane l is (Bᵀ d B)[a][b] of tile tx0 + l.
I2V_AVX512 void input_transform(const float* image, const PatchLoads& loads, __m512 (&v)[kPositions]) {
  __m512 d[4][4];  // the loads of the patches' 4 rows: [r][load]
  for (int r = 0; r < 4; ++r)
    for (int l = 0; l < 4; ++l)
      d[r][l] = loads.row_inside[r]
                    ? _mm512_maskz_loadu_ps(loads.inside[l], image + loads.row_offset[r] + loads.start[l])
                    : _mm512_setzero_ps();
  __m512 row_t[4][4];  // Bᵀ d, before the split: [a][load]
  for (int l = 0; l < 4; ++l) {
    row_t[0][l] = _mm512_sub_ps(d[0][l], d[2][l]);
    row_t[1][l] = _mm512_add_ps(d[1][l], d[2][l]);
    row_t[2][l] = _mm512_sub_ps(d[2][l], d[1][l]);
    row_t[3][l] = _mm512_sub_ps(d[1][l], d[3][l]);
  }
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int a = 0; a < 4; ++a) {
    // Column s of tile lane l: element 2l + s of the row from x0.
    const __m512 s0 = _mm512_permutex2var_ps(row_t[a][0], even, row_t[a][1]);
    const __m512 s1 = _mm512_permutex2var_ps(row_t[a][0], odd, row_t[a][1]);
    const __m512 s2 = _mm512_permutex2var_ps(row_t[a][2], even, row_t[a][3]);
    const __m512 s3 = _mm512_permutex2var_ps(row_t[a][2], odd, row_t[a][3]);
    v[4 * a + 0] = _mm512_sub_ps(s0, s2);
    v[4 * a + 1] = _mm512_add_ps(s1, s2);
    v[4 * a + 2] = _mm512_sub_ps(s2, s1);
    v[4 * a + 3] = _mm512_sub_ps(s1, s3);
  }
}

// V of the block's tiles for every depth channel, into the 16 B panels
// at `panels` (panel ξ at ξ · packed_depth · width, [depth rows][width]). Columns past `count`
// are left as they are: only outputs that are not stored read them. Channel by channel, each
// through all the block's runs, so that a channel's loads walk a few consecutive image rows (the
// transform's loads wait on memory: every channel of a tile block is another NCHW plane).
I2V_AVX512 void transform_input(CpuArithmetic arithmetic, const float* source, const Problem& p,
                                const TileBlock& block, int width, float* panels) {
  const int64_t depth_rows = packed_depth(arithmetic, p.depth), pixels = p.height * p.width;
  const int step = depth_per_row(arithmetic);
  for (int64_t d = 0; d < p.depth; d += step) {
    float* panel_row = panels + d / step * width;
    for (size_t i = 0; i < block.runs.size(); ++i) {
      const TileRun& run = block.runs[i];
      const float* image = source + (run.n * p.depth + d) * pixels;
      __m512 even[kPositions], odd[kPositions], rows[kPositions];
      input_transform(image, block.input_loads[i], even);
      if (step == 2) {
        if (d + 1 < p.depth)
          input_transform(image + pixels, block.input_loads[i], odd);
        else
          for (__m512& zero : odd) zero = _mm512_setzero_ps();
      }
      panel_rows(arithmetic, even, odd, rows);
      const __mmask16 lanes = __mmask16((1u << run.lanes) - 1);
      for (int xi = 0; xi < kPositions; ++xi)
        _mm512_mask_storeu_ps(panel_row + xi * depth_rows * width + run.column, lanes, rows[xi]);
    }
  }
}

// ---- the output: Aᵀ M A ------------------------------------------------------------------------

// Writes the 2×2 outputs of a run of tiles in one output channel (`image`: its height × width
// pixels) from m[ξ] (lane l: tile tx0 + l), cropping at the image's edges.
I2V_AVX512 void output_transform(const __m512 (&m)[kPositions], const Problem& p, const TileRun& run, float* image) {
  __m512 rows[2][4];  // Aᵀ M: [i][b]
  for (int b = 0; b < 4; ++b) {
    rows[0][b] = _mm512_add_ps(_mm512_add_ps(m[b], m[4 + b]), m[8 + b]);
    rows[1][b] = _mm512_sub_ps(_mm512_sub_ps(m[4 + b], m[8 + b]), m[12 + b]);
  }
  // Interleaving output columns 0 and 1 of lanes 0..7 (then 8..15) gives 16 consecutive pixels.
  const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
  const int64_t x0 = 2 * run.tx0, columns = std::min<int64_t>(2 * run.lanes, p.width - x0);
  for (int i = 0; i < 2; ++i) {
    const int64_t y = 2 * run.ty + i;
    if (y >= p.height) break;
    const __m512 left = _mm512_add_ps(_mm512_add_ps(rows[i][0], rows[i][1]), rows[i][2]);
    const __m512 right = _mm512_sub_ps(_mm512_sub_ps(rows[i][1], rows[i][2]), rows[i][3]);
    float* out = image + y * p.width + x0;
    _mm512_mask_storeu_ps(out, inside_mask(0, columns), _mm512_permutex2var_ps(left, low, right));
    _mm512_mask_storeu_ps(out + 16, inside_mask(16, columns), _mm512_permutex2var_ps(left, high, right));
  }
}

// The outputs of rows [first_row, first_row + rows) for the block's tiles from M ([ξ][kMR]
// [width]: the 16 products' sums for those rows).
I2V_AVX512 void transform_output(const float* sums, const Problem& p, const TileBlock& block, int width,
                                 int64_t first_row, int rows, float* result) {
  const int64_t pixels = p.height * p.width;
  for (const TileRun& run : block.runs) {
    const __mmask16 lanes = __mmask16((1u << run.lanes) - 1);
    for (int i = 0; i < rows; ++i) {
      __m512 m[kPositions];
      for (int xi = 0; xi < kPositions; ++xi)
        m[xi] = _mm512_maskz_loadu_ps(lanes, sums + (xi * kMR + i) * width + run.column);
      output_transform(m, p, run, result + (run.n * p.rows + first_row + i) * pixels);
    }
  }
}

// ---- the weight gradient: dW += Gᵀ [Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B)] G ---------------------------
//
// The adjoint of the forward: its tile is Aᵀ (U ⊙ V) A with U = G g Gᵀ, so the gradient of U_ξ
// is Σ_tiles Ŷ_ξ · V_ξ with Ŷ = A dY Aᵀ (dY of the tile's 2×2 outputs, zero where cropped), and
// dW = Gᵀ dU G. Per ξ a product dU_ξ[out][in] = Σ_tiles Ŷ_ξ[out][tile] · V_ξ[in][tile] whose
// depth is the tiles, in blocks of kGradTiles. The transforms give tiles along the lanes; they
// are staged in fp32 ([ξ][channels][tiles]) and packed into panels by transposing 16×16 blocks in
// registers. bf16_pairs pairs consecutive tiles: vcvtne2ps2bf16 of 32 consecutive tiles gives,
// read as 32-bit lanes, exactly the pairs (t, t + 1) in order.
//
// Per block all threads first transform and pack (dY's channels in groups of 8 rows of A, the
// input's in groups of 16 columns of B), then each thread runs the products of its own ξ (dU_ξ
// belongs to one thread: no reduction, and each sum runs in the same order however many threads
// there are). After the last block dU goes through Gᵀ · G into the weight gradient.

constexpr int64_t kGradTiles = 512;  // tiles per depth block of the weight gradient's products

// The 16 values of A dY Aᵀ (A = (Aᵀ)ᵀ, 4×2) of a run's tiles in one channel of dY (`image`):
// w[4a + b] lane l is that of tile tx0 + l.
I2V_AVX512 void output_grad_transform(const float* image, const GradLoads& loads, __m512 (&w)[kPositions]) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 zero = _mm512_setzero_ps();
  __m512 g[2][2];  // [i][j]: the output gradient at row i, column j of each lane's tile
  for (int i = 0; i < 2; ++i) {
    const __m512 low = loads.row_inside[i] ? _mm512_maskz_loadu_ps(loads.inside[0], image + loads.row_offset[i]) : zero;
    const __m512 high =
        loads.row_inside[i] ? _mm512_maskz_loadu_ps(loads.inside[1], image + loads.row_offset[i] + 16) : zero;
    g[i][0] = _mm512_permutex2var_ps(low, even, high);
    g[i][1] = _mm512_permutex2var_ps(low, odd, high);
  }
  __m512 q[4][2];  // A g
  for (int j = 0; j < 2; ++j) {
    q[0][j] = g[0][j];
    q[1][j] = _mm512_add_ps(g[0][j], g[1][j]);
    q[2][j] = _mm512_sub_ps(g[0][j], g[1][j]);
    q[3][j] = _mm512_sub_ps(zero, g[1][j]);
  }
  for (int a = 0; a < 4; ++a) {  // (A g) Aᵀ
    w[4 * a + 0] = q[a][0];
    w[4 * a + 1] = _mm512_add_ps(q[a][0], q[a][1]);
    w[4 * a + 2] = _mm512_sub_ps(q[a][0], q[a][1]);
    w[4 * a + 3] = _mm512_sub_ps(zero, q[a][1]);
  }
}

// Stages the transformed values of `channels` consecutive channels of `source` (dY when
// `of_output_grad`, else the input) for the block's tiles: stage[(ξ · channels + i) · kGradTiles
// + column], fp32.
I2V_AVX512 void stage_transforms(const float* source, int64_t source_channels, const Problem& p, const TileBlock& block,
                                 bool of_output_grad, int64_t first_channel, int channels, float* stage) {
  const int64_t pixels = p.height * p.width;
  for (int i = 0; i < channels; ++i)
    for (size_t r = 0; r < block.runs.size(); ++r) {
      const TileRun& run = block.runs[r];
      const float* image = source + (run.n * source_channels + first_channel + i) * pixels;
      __m512 values[kPositions];
      if (of_output_grad)
        output_grad_transform(image, block.output_loads[r], values);
      else
        input_transform(image, block.input_loads[r], values);
      const __mmask16 lanes = __mmask16((1u << run.lanes) - 1);
      for (int xi = 0; xi < kPositions; ++xi)
        _mm512_mask_storeu_ps(stage + (xi * channels + i) * kGradTiles + run.column, lanes, values[xi]);
    }
}

// Transposes 16 vectors of a channel each (lanes along the tiles) and stores lane r of them as
// panel row r: out + r · stride, its first 8 lanes (an A panel's rows) or all 16.
I2V_AVX512 void store_transposed(__m512 (&block)[16], float* out, int64_t stride, bool eight_lanes) {
  transpose_16x16(block);
  for (int r = 0; r < 16; ++r) {
    if (eight_lanes)
      _mm256_store_ps(out + r * stride, _mm512_castps512_ps256(block[r]));
    else
      _mm512_storeu_ps(out + r * stride, block[r]);
  }
}

// Packs staged rows ([channels ≤ 16][kGradTiles], fp32, tiles [0, count) and zeros past them)
// into panel rows along the tiles: row r at out + r · stride, 8 lanes (an A panel's rows) or 16
// (16 columns of a B panel). bf16_pairs: row r holds the pairs of tiles 2r, 2r + 1; bf16_rounded:
// tile r, rounded. Whole chunks of 16 rows: staged_depth_rows of them.
I2V_AVX512_BF16 void pack_staged_pairs(const float* stage, int channels, int count, float* out, int64_t stride,
                                          bool eight_lanes) {
  int64_t rows = 0;
  for (int t0 = 0; t0 < count; t0 += 32, rows += 16) {
    __m512 block[16];
    for (int i = 0; i < 16; ++i) {
      if (i >= channels) {
        block[i] = _mm512_setzero_ps();
        continue;
      }
      const float* row = stage + i * kGradTiles + t0;
      const __m512 low = _mm512_maskz_loadu_ps(inside_mask(t0, count), row);
      const __m512 high = _mm512_maskz_loadu_ps(inside_mask(t0 + 16, count), row + 16);
      block[i] = (__m512)_mm512_cvtne2ps_pbh(high, low);
    }
    store_transposed(block, out + rows * stride, stride, eight_lanes);
  }
}

I2V_AVX512 void pack_staged_rounded(const float* stage, int channels, int count, float* out, int64_t stride,
                                       bool eight_lanes) {
  int64_t rows = 0;
  for (int t0 = 0; t0 < count; t0 += 16, rows += 16) {
    __m512 block[16];
    for (int i = 0; i < 16; ++i)
      block[i] = i < channels ? _mm512_castsi512_ps(_mm512_slli_epi32(
                                    to_bf16_lanes(_mm512_maskz_loadu_ps(inside_mask(t0, count),
                                                                        stage + i * kGradTiles + t0)),
                                    16))
                              : _mm512_setzero_ps();
    store_transposed(block, out + rows * stride, stride, eight_lanes);
  }
}

I2V_AVX512 void pack_staged(CpuArithmetic arithmetic, const float* stage, int channels, int count, float* out,
                               int64_t stride, bool eight_lanes) {
  if (arithmetic == CpuArithmetic::bf16_rounded)
    pack_staged_rounded(stage, channels, count, out, stride, eight_lanes);
  else
    pack_staged_pairs(stage, channels, count, out, stride, eight_lanes);
}

// The panel rows pack_staged writes for `count` tiles: whole chunks of 32 tiles (16 pairs) in
// bf16_pairs, of 16 tiles in bf16_rounded.
int64_t staged_depth_rows(CpuArithmetic arithmetic, int count) {
  return arithmetic == CpuArithmetic::bf16_rounded ? (count + 15) / 16 * 16 : (count + 31) / 32 * 16;
}

// grad_weight[row][depth] += Gᵀ dU[row][depth] G for 16 depth channels from `first` (lanes past
// p.depth left alone), the weight laid out as the forward reads it (WeightOrder).
I2V_AVX512 void add_filter_grads(const float* du, const Problem& p, int64_t row, int64_t first, float* grad_weight) {
  const __mmask16 lanes = inside_mask(first, p.depth);
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512 u[kPositions];
  for (int xi = 0; xi < kPositions; ++xi)
    u[xi] = _mm512_maskz_loadu_ps(lanes, du + (xi * p.rows + row) * p.depth + first);
  __m512 r[3][4];  // Gᵀ dU
  for (int b = 0; b < 4; ++b) {
    const __m512 middle = _mm512_mul_ps(half, _mm512_add_ps(u[4 + b], u[8 + b]));
    r[0][b] = _mm512_add_ps(u[b], middle);
    r[1][b] = _mm512_mul_ps(half, _mm512_sub_ps(u[4 + b], u[8 + b]));
    r[2][b] = _mm512_add_ps(middle, u[12 + b]);
  }
  const __m512i index = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(9));
  float* first_filter = grad_weight + (row * p.depth + first) * 9;
  for (int i = 0; i < 3; ++i) {  // (Gᵀ dU) G
    const __m512 middle = _mm512_mul_ps(half, _mm512_add_ps(r[i][1], r[i][2]));
    const __m512 taps[3] = {_mm512_add_ps(r[i][0], middle), _mm512_mul_ps(half, _mm512_sub_ps(r[i][1], r[i][2])),
                            _mm512_add_ps(middle, r[i][3])};
    for (int j = 0; j < 3; ++j) {
      float* tap = first_filter + 3 * i + j;
      const __m512 sum = _mm512_add_ps(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, index, tap, 4), taps[j]);
      _mm512_mask_i32scatter_ps(tap, lanes, index, sum, 4);
    }
  }
}

// The weight gradient of images [batch][depth][h][w] and dy [batch][rows][h][w] added onto
// grad_weight [rows][depth][3][3]. (Not I2V_AVX512: it holds OpenMP regions.)
void winograd_weight_grad(const Problem& p, const float* images, const float* dy, float* grad_weight) {
  const CpuArithmetic arithmetic = cpu_arithmetic();
  const int64_t row_panels = (p.rows + kMR - 1) / kMR, column_panels = (p.depth + kNR - 1) / kNR;
  const int64_t most_depth_rows = packed_depth(arithmetic, kGradTiles);
  const int64_t a_slot = most_depth_rows * kMR, b_slot = most_depth_rows * kNR;
  // The call's packing space: the A and B panels and dU, which the threads share, and a staging
  // area for each thread.
  const PackingSpace a_space(kPositions * row_panels * a_slot), b_space(kPositions * column_panels * b_slot);
  const PackingSpace du_space(kPositions * p.rows * p.depth);
  const PackingSpace stages(kPositions * 16 * kGradTiles, omp_get_max_threads());
  float* a_panels = a_space.of();
  float* b_panels = b_space.of();
  float* du = du_space.of();
  const int64_t tiles = p.tiles(), row_groups = row_panels, column_groups = (p.depth + 15) / 16;
  const MicroTile kernels[kMaxVectors] = {micro_kernel<1>(arithmetic), micro_kernel<2>(arithmetic),
                                          micro_kernel<3>(arithmetic)};
#pragma omp parallel
  {
    TileBlock block;
    float* stage = stages.of(omp_get_thread_num());
    for (int64_t first = 0; first < tiles; first += kGradTiles) {
      block.reset(p, first, int(std::min(kGradTiles, tiles - first)));
      const int64_t depth_rows = staged_depth_rows(arithmetic, block.count);
#pragma omp for schedule(static) nowait
      for (int64_t rp = 0; rp < row_groups; ++rp) {  // A: Ŷ of 8 rows
        const int rows = int(std::min<int64_t>(kMR, p.rows - rp * kMR));
        stage_transforms(dy, p.rows, p, block, true, rp * kMR, rows, stage);
        for (int xi = 0; xi < kPositions; ++xi)
          pack_staged(arithmetic, stage + xi * rows * kGradTiles, rows, block.count,
                      a_panels + (xi * row_panels + rp) * a_slot, kMR, true);
      }
#pragma omp for schedule(static)
      for (int64_t group = 0; group < column_groups; ++group) {  // B: V of 16 columns
        const int columns = int(std::min<int64_t>(16, p.depth - group * 16));
        const int64_t cp = group / 3, width = 16 * std::min<int64_t>(3, (p.depth - cp * kNR + 15) / 16);
        stage_transforms(images, p.depth, p, block, false, group * 16, columns, stage);
        for (int xi = 0; xi < kPositions; ++xi)
          pack_staged(arithmetic, stage + xi * columns * kGradTiles, columns, block.count,
                      b_panels + (xi * column_panels + cp) * b_slot + group % 3 * 16, width, false);
      }
      // (the barrier of the loop above: every panel is packed)
#pragma omp for schedule(static)
      for (int xi = 0; xi < kPositions; ++xi) {
        float* du_xi = du + xi * p.rows * p.depth;
        for (int64_t cp = 0; cp < column_panels; ++cp) {
          const int cols = int(std::min<int64_t>(kNR, p.depth - cp * kNR));
          const float* b = b_panels + (xi * column_panels + cp) * b_slot;
          for (int64_t rp = 0; rp < row_panels; ++rp)
            kernels[(cols + 15) / 16 - 1](depth_rows, a_panels + (xi * row_panels + rp) * a_slot, b,
                                          du_xi + rp * kMR * p.depth + cp * kNR, p.depth,
                                          int(std::min<int64_t>(kMR, p.rows - rp * kMR)), cols, 1.0f,
                                          first == 0 ? 0.0f : 1.0f);
        }
      }
    }
#pragma omp for schedule(static)
    for (int64_t row = 0; row < p.rows; ++row)
      for (int64_t first = 0; first < p.depth; first += 16) add_filter_grads(du, p, row, first, grad_weight);
  }
}

// ---- the convolution -------------------------------------------------------------------------

// (Not I2V_AVX512: GCC outlines an OpenMP region into a function without the target attribute,
// so the regions only call functions that have it.)
void winograd_convolution(const float* weight, const WeightOrder& order, const Problem& p,
                                     const float* source, float* result) {
  const CpuArithmetic arithmetic = cpu_arithmetic();
  const int64_t depth_rows = packed_depth(arithmetic, p.depth), row_panels = (p.rows + kMR - 1) / kMR;
  const PackingSpace u_space(row_panels * kPositions * depth_rows * kMR);
  float* u = u_space.of();
#pragma omp parallel for schedule(static)
  for (int64_t group = 0; group < (p.rows + 15) / 16; ++group)
    transform_weight_rows(arithmetic, weight, p, order, group, u);

  const int64_t tiles = p.tiles(), blocks = (tiles + kNR - 1) / kNR;
  const int threads = omp_get_max_threads();
  const PackingSpace v_space(kPositions * depth_rows * kNR, threads), sums_space(kPositions * kMR * kNR, threads);
  // Too few blocks to share evenly by whole blocks: every thread takes its part of each block's rows.
  const int64_t parts = blocks >= 8 * threads || blocks % threads == 0 ? 1 : threads;
  const MicroTile kernels[kMaxVectors] = {micro_kernel<1>(arithmetic), micro_kernel<2>(arithmetic),
                                          micro_kernel<3>(arithmetic)};
#pragma omp parallel
  {
    TileBlock tile_block;
    float* v = v_space.of(omp_get_thread_num());
    float* sums = sums_space.of(omp_get_thread_num());
#pragma omp for schedule(static, 1)
    for (int64_t item = 0; item < blocks * parts; ++item) {
      const int64_t block = item / parts, part = item % parts;
      const int64_t first_panel = row_panels * part / parts, last_panel = row_panels * (part + 1) / parts;
      if (first_panel == last_panel) continue;
      const int64_t first = block * kNR;
      const int count = int(std::min<int64_t>(kNR, tiles - first)), vectors = (count + 15) / 16;
      const int width = 16 * vectors;
      tile_block.reset(p, first, count);
      transform_input(arithmetic, source, p, tile_block, width, v);
      for (int64_t rp = first_panel; rp < last_panel; ++rp) {
        const int rows = int(std::min<int64_t>(kMR, p.rows - rp * kMR));
        for (int xi = 0; xi < kPositions; ++xi)
          kernels[vectors - 1](depth_rows, u + (rp * kPositions + xi) * depth_rows * kMR,
                               v + xi * depth_rows * width, sums + xi * kMR * width, width, rows, count, 1.0f, 0.0f);
        transform_output(sums, p, tile_block, width, rp * kMR, rows, result);
      }
    }
  }
}

std::atomic<bool> g_winograd_off{false};

}  // namespace

WinogradOff::WinogradOff() : was_off_(g_winograd_off.exchange(true)) {}
WinogradOff::~WinogradOff() { g_winograd_off.store(was_off_); }

bool conv_winograd_applies(int64_t batch, int64_t out_channels, const ConvGeometry& g) {
  if (g_winograd_off.load(std::memory_order_relaxed) || !cpu_has_avx512f()) return false;
  const CpuArithmetic arithmetic = cpu_arithmetic();
  return (arithmetic == CpuArithmetic::bf16_pairs || arithmetic == CpuArithmetic::bf16_rounded) &&
         g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 1 && g.pad_w == 1 &&
         g.channels >= kMinChannels && out_channels >= kMinChannels && g.width < (int64_t(1) << 20) &&
         Problem{batch, g.channels, out_channels, g.height, g.width}.tiles() >= kMinTiles;
}

void conv_forward_winograd(const float* weight, int64_t out_channels, const float* images, int64_t batch,
                           const ConvGeometry& g, float* y) {
  const Problem p{batch, g.channels, out_channels, g.height, g.width};
  winograd_convolution(weight, WeightOrder{g.channels * 9, 9, false}, p, images, y);
}

void conv_weight_grad_winograd(const float* dy, int64_t out_channels, const float* images, int64_t batch,
                               const ConvGeometry& g, float* grad_weight) {
  winograd_weight_grad(Problem{batch, g.channels, out_channels, g.height, g.width}, images, dy, grad_weight);
}

void conv_input_grad_winograd(const float* weight, int64_t out_channels, const float* dy, int64_t batch,
                              const ConvGeometry& g, float* dx) {
  const Problem p{batch, out_channels, g.channels, g.height, g.width};
  winograd_convolution(weight, WeightOrder{9, g.channels * 9, true}, p, dy, dx);
}

}  // namespace i2v::cpu
