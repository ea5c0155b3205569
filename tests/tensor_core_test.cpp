// The tensor-core instructions of kernels/tensor_core.cuh against scalar references: each
// instruction with its fragment layout, and the tf32 and bf16 conversions bit for bit, on sim and
// on a GPU when present; then, on sim only, the misuse the emulator must report.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/sim/simt.h"
#include "kernels/tensor_core_fragments.h"
#include "tests/tensor_core_test_kernels.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::expect_error_containing;
using test::FragmentBug;
using test::test_rng;

// An mma result is compared with the exact sum relative to the sum of the magnitudes of its terms
// (Σ|a·b| + |c|): the order and rounding of a tensor core's additions are not specified, and
// cancellation makes an error relative to the result itself meaningless.
constexpr double kMmaTolerance = 1e-5;

// The reference of a batch of tiles d = a·b + c (a: m×k, b: k×n, c and d: m×n, row-major), over
// the operands as the tensor cores read them, in double.
struct MmaReference {
  std::vector<double> d;
  std::vector<double> magnitude;  // Σ|a·b| + |c| of each element
};

template <typename Operand>
MmaReference mma_reference(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c,
                           int tiles, int m, int n, int k, Operand operand) {
  MmaReference ref{std::vector<double>(c.size()), std::vector<double>(c.size())};
  for (int t = 0; t < tiles; ++t)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        const size_t out = size_t(t * m * n + i * n + j);
        double sum = c[out], magnitude = std::fabs(c[out]);
        for (int p = 0; p < k; ++p) {
          const double product = double(operand(a[size_t(t * m * k + i * k + p)])) *
                                 double(operand(b[size_t(t * k * n + p * n + j)]));
          sum += product;
          magnitude += std::fabs(product);
        }
        ref.d[out] = sum;
        ref.magnitude[out] = magnitude;
      }
  return ref;
}

// The elements of d farther from the reference than the tolerance allows (a NaN is never near).
int count_mismatches(const std::vector<float>& d, const MmaReference& ref, bool report) {
  int mismatches = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (std::fabs(double(d[i]) - ref.d[i]) <= kMmaTolerance * ref.magnitude[i]) continue;
    if (++mismatches <= 10 && report)
      ADD_FAILURE() << "element " << i << " (tile " << i / 128 << ", row " << i % 128 / 8 << ", col " << i % 8
                    << "): got " << d[i] << ", expected " << ref.d[i] << " (terms' magnitude " << ref.magnitude[i]
                    << ")";
  }
  return mismatches;
}

float tf32_rounded(float x) { return bits_float(to_tf32(x)); }
float tf32_truncated(float x) { return tf32_operand_value(float_bits(x)); }
float bf16_rounded(float x) { return bf16_value(to_bf16(x)); }

std::vector<uint32_t> as_u32(const Tensor& t) {
  const std::vector<int32_t> v = t.to_vector<int32_t>();
  return std::vector<uint32_t>(v.begin(), v.end());
}

class TensorCore : public testing::TestWithParam<Device> {};

TEST_P(TensorCore, MmaTf32MatchesTheReference) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int tiles = 12;  // 3 blocks of 4 warps
  Tensor a = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor b = test::random_tensor({tiles, 8, 8}, rng, device, -2.0f, 2.0f);
  Tensor c = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor d = Tensor::full({tiles, 16, 8}, NAN, DType::f32, device);
  RUN_ON(device, mma_tf32_tiles, a.data<float>(), b.data<float>(), c.data<float>(), d.data<float>(), tiles, true,
         FragmentBug::none);
  const MmaReference ref =
      mma_reference(a.to_vector<float>(), b.to_vector<float>(), c.to_vector<float>(), tiles, 16, 8, 8, tf32_rounded);
  EXPECT_EQ(count_mismatches(d.to_vector<float>(), ref, true), 0);
}

// f32 values passed without to_tf32 are read truncated to their upper 19 bits, not rounded: the
// emulator's assumption, which a GPU run of this test checks.
TEST_P(TensorCore, MmaTf32ReadsTheUpper19BitsOfUnroundedOperands) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int tiles = 8;
  Tensor a = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor b = test::random_tensor({tiles, 8, 8}, rng, device, -2.0f, 2.0f);
  Tensor c = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor d = Tensor::full({tiles, 16, 8}, NAN, DType::f32, device);
  RUN_ON(device, mma_tf32_tiles, a.data<float>(), b.data<float>(), c.data<float>(), d.data<float>(), tiles, false,
         FragmentBug::none);
  const MmaReference ref = mma_reference(a.to_vector<float>(), b.to_vector<float>(), c.to_vector<float>(), tiles,
                                         16, 8, 8, tf32_truncated);
  EXPECT_EQ(count_mismatches(d.to_vector<float>(), ref, true), 0);
}

void check_mma_bf16(const Device& device, bool via_ldmatrix) {
  auto rng = test_rng();
  const int tiles = 12;
  Tensor a = test::random_tensor({tiles, 16, 16}, rng, device, -2.0f, 2.0f);
  Tensor b = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor c = test::random_tensor({tiles, 16, 8}, rng, device, -2.0f, 2.0f);
  Tensor d = Tensor::full({tiles, 16, 8}, NAN, DType::f32, device);
  RUN_ON(device, mma_bf16_tiles, a.data<float>(), b.data<float>(), c.data<float>(), d.data<float>(), tiles,
         via_ldmatrix);
  const MmaReference ref = mma_reference(a.to_vector<float>(), b.to_vector<float>(), c.to_vector<float>(), tiles,
                                         16, 8, 16, bf16_rounded);
  EXPECT_EQ(count_mismatches(d.to_vector<float>(), ref, true), 0);
}

TEST_P(TensorCore, MmaBf16MatchesTheReference) { check_mma_bf16(GetParam(), false); }

TEST_P(TensorCore, MmaBf16FedByLdmatrixFromSharedMemory) { check_mma_bf16(GetParam(), true); }

TEST_P(TensorCore, LdmatrixLoadsEveryShapeAndTransposition) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int warps = 8;
  std::vector<int32_t> bits(size_t(warps) * 32 * 4);  // 32 rows of 8 16-bit elements a warp
  for (int32_t& word : bits) word = int32_t(rng());
  Tensor rows = Tensor::from_vector(bits, {int64_t(bits.size())}, device);
  std::vector<uint16_t> elements(bits.size() * 2);
  std::memcpy(elements.data(), bits.data(), elements.size() * sizeof(uint16_t));
  for (int matrices : {1, 2, 4})
    for (bool trans : {false, true}) {
      SCOPED_TRACE(fmt::format("ldmatrix.x{}{}", matrices, trans ? ".trans" : ""));
      Tensor out = Tensor::full({warps * 32 * 4}, -1, DType::i32, device);
      RUN_ON(device, ldmatrix_rows, reinterpret_cast<const uint16_t*>(rows.data<int32_t>()),
             reinterpret_cast<uint32_t*>(out.data<int32_t>()), warps, matrices, trans);
      const std::vector<uint32_t> got = as_u32(out);
      int mismatches = 0;
      for (int w = 0; w < warps; ++w)
        for (int lane = 0; lane < 32; ++lane)
          for (int m = 0; m < 4; ++m) {
            uint32_t expected = 0xffffffffu;  // registers past the last matrix are not written
            if (m < matrices) {
              expected = 0;
              for (int half = 0; half < 2; ++half) {
                const FragmentCoord p = ldmatrix_m8n8_element(lane, half, trans);
                expected |= uint32_t(elements[size_t((w * 32 + 8 * m + p.row) * 8 + p.col)]) << (16 * half);
              }
            }
            const uint32_t value = got[size_t((w * 32 + lane) * 4 + m)];
            if (value != expected && ++mismatches <= 10)
              ADD_FAILURE() << fmt::format("warp {} lane {} register {}: got {:#010x}, expected {:#010x}", w, lane,
                                           m, value, expected);
          }
    }
}

TEST_P(TensorCore, CpAsyncCopiesAndZeroFills) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int blocks = 3, segments = blocks * 3 * 64;
  for (int size : {4, 8, 16}) {
    SCOPED_TRACE(fmt::format("cp.async {}", size));
    std::vector<uint8_t> src(size_t(segments * size));
    for (uint8_t& byte : src) byte = uint8_t(rng());
    std::vector<int32_t> src_bytes(static_cast<size_t>(segments));
    std::uniform_int_distribution<int> count(0, size);
    for (int32_t& n : src_bytes) n = count(rng);
    Tensor src_t = Tensor::from_vector(src, {int64_t(src.size())}, device);
    Tensor src_bytes_t = Tensor::from_vector(src_bytes, {segments}, device);
    Tensor out = Tensor::full({int64_t(src.size())}, 0xAB, DType::u8, device);
    RUN_ON(device, cp_async_segments, src_t.data<uint8_t>(), src_bytes_t.data<int32_t>(), out.data<uint8_t>(), size,
           blocks);
    const std::vector<uint8_t> got = out.to_vector<uint8_t>();
    int mismatches = 0;
    for (int s = 0; s < segments; ++s)
      for (int i = 0; i < size; ++i) {
        const size_t at = size_t(s * size + i);
        const uint8_t expected = i < src_bytes[size_t(s)] ? src[at] : 0;
        if (got[at] != expected && ++mismatches <= 10)
          ADD_FAILURE() << fmt::format("segment {} byte {} (src_bytes {}): got {:#04x}, expected {:#04x}", s, i,
                                       src_bytes[size_t(s)], got[at], expected);
      }
  }
}

TEST_P(TensorCore, CpAsyncWaitGroupCompletesAllButTheNewestGroups) {
  const Device device = GetParam();
  auto rng = test_rng();
  Tensor in = test::random_tensor({16}, rng, device);
  Tensor out = Tensor::full({48}, NAN, DType::f32, device);
  RUN_ON(device, cp_async_groups, in.data<float>(), out.data<float>());
  const std::vector<float> x = in.to_vector<float>(), y = out.to_vector<float>();
  // What each wait guarantees: wait_group 1 the first two of the three groups, wait_group 0 all
  // three, wait_all the uncommitted copy too. The rest is unspecified on a GPU (see the sim test).
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y[size_t(i)], x[size_t(i)]) << "after wait_group 1, element " << i;
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y[size_t(16 + i)], x[size_t(i)]) << "after wait_group 0, element " << i;
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[size_t(32 + i)], x[size_t(i)]) << "after wait_all, element " << i;
}

TEST_P(TensorCore, CpAsyncThreeStagePipelineIsExact) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int blocks = 3, tiles_per_block = 5, tile = 512;
  // The last tile partly past the end, then also a tile wholly past it (zero-filled copies only).
  for (int64_t missing : {300, 700}) {
    const int64_t n = int64_t(blocks) * tiles_per_block * tile - missing;
    SCOPED_TRACE(fmt::format("n = {}", n));
    Tensor in = test::random_tensor({n}, rng, device);
    Tensor out = Tensor::full({n}, NAN, DType::f32, device);
    RUN_ON(device, cp_async_pipeline, in.data<float>(), out.data<float>(), n, blocks, tiles_per_block);
    const std::vector<float> x = in.to_vector<float>(), y = out.to_vector<float>();
    int mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t neighbour = i / tile * tile + (i % tile + 1) % tile;
      const float expected = 2.0f * x[size_t(i)] + (neighbour < n ? x[size_t(neighbour)] : 0.0f);
      if (!(y[size_t(i)] == expected) && ++mismatches <= 10)
        ADD_FAILURE() << "element " << i << ": got " << y[size_t(i)] << ", expected " << expected;
    }
  }
}

// Inputs that probe every rounding case: ties (kept bit even and odd, both signs), denormals,
// the largest finite values, zeros, infinities, NaNs with payloads in the kept and the dropped
// bits; then random bit patterns.
std::vector<float> conversion_inputs(std::mt19937_64& rng) {
  std::vector<uint32_t> bits = {
      0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3f800fff, 0x3f801000, 0x3f801001, 0x3f803000,
      0xbf801000, 0xbf803000, 0x3f808000, 0x3f818000, 0x3f808001, 0xbf808000, 0xbf818000, 0x00001000,
      0x00003000, 0x00000fff, 0x00008000, 0x00018000, 0x807ff000, 0x807f8000, 0x00000001, 0x80000001,
      0x7f7fffff, 0xff7fffff, 0x7f7ff000, 0x7f7fefff, 0x7f7f8000, 0x7f7f7fff, 0x7f800000, 0xff800000,
      0x7fc00000, 0xffc00000, 0x7fc01234, 0x7f800001, 0xff800001, 0x7f801000, 0x7fbfffff, 0xffffffff,
  };
  for (int i = 0; i < 256; ++i) {
    const uint32_t r = uint32_t(rng());
    bits.push_back((r & 0xffffe000u) | 0x1000u);  // a tf32 tie
    bits.push_back((r & 0xffff0000u) | 0x8000u);  // a bf16 tie
  }
  for (int i = 0; i < 4096; ++i) bits.push_back(uint32_t(rng()));
  std::vector<float> values;
  for (uint32_t u : bits) values.push_back(bits_float(u));
  return values;
}

TEST_P(TensorCore, DeviceConversionsMatchTheHostOnes) {
  const Device device = GetParam();
  auto rng = test_rng();
  const std::vector<float> x = conversion_inputs(rng);
  const int n = int(x.size());
  Tensor x_t = Tensor::from_vector(x, {n}, device);
  Tensor tf32 = Tensor::full({n}, -1, DType::i32, device);
  Tensor bf16 = Tensor::full({n}, -1, DType::i32, device);
  Tensor packed = Tensor::full({n}, -1, DType::i32, device);
  RUN_ON(device, convert, x_t.data<float>(), reinterpret_cast<uint32_t*>(tf32.data<int32_t>()),
         reinterpret_cast<uint32_t*>(bf16.data<int32_t>()), reinterpret_cast<uint32_t*>(packed.data<int32_t>()), n);
  const std::vector<uint32_t> got_tf32 = as_u32(tf32), got_bf16 = as_u32(bf16), got_packed = as_u32(packed);
  int mismatches = 0;
  for (int i = 0; i < n; ++i) {
    const float lo = x[size_t(i)], hi = x[size_t((i + 1) % n)];
    const uint32_t want_tf32 = to_tf32(lo), want_bf16 = to_bf16(lo), want_packed = pack_bf16x2(lo, hi);
    if ((got_tf32[size_t(i)] != want_tf32 || got_bf16[size_t(i)] != want_bf16 ||
         got_packed[size_t(i)] != want_packed) &&
        ++mismatches <= 20)
      ADD_FAILURE() << fmt::format(
          "x = {:#010x} (hi {:#010x}): tf32 {:#010x} (host {:#010x}), bf16 {:#06x} (host {:#06x}), "
          "bf16x2 {:#010x} (host {:#010x})",
          float_bits(lo), float_bits(hi), got_tf32[size_t(i)], want_tf32, got_bf16[size_t(i)], want_bf16,
          got_packed[size_t(i)], want_packed);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, TensorCore, testing::ValuesIn(test::gpu_devices()), test::device_name);

// ---- the host conversions against independent references ------------------------------------

// x rounded to `mantissa_bits` explicit bits with f32's exponent range (denormals included), from
// its two neighbours on that grid, in double; ties away from zero or to even.
double round_to_format(float x, int mantissa_bits, bool ties_away) {
  const double magnitude = std::fabs(double(x));
  if (!std::isfinite(x) || magnitude == 0.0) return x;
  int e;
  std::frexp(magnitude, &e);  // magnitude in [2^(e-1), 2^e)
  const double ulp = std::ldexp(1.0, std::max(e - 1, -126) - mantissa_bits);
  const double lower = std::floor(magnitude / ulp) * ulp, upper = lower + ulp;
  double r;
  if (magnitude - lower != upper - magnitude)
    r = magnitude - lower < upper - magnitude ? lower : upper;
  else
    r = ties_away || std::fmod(lower / ulp, 2.0) != 0.0 ? upper : lower;
  if (r >= std::ldexp(1.0, 128)) r = INFINITY;
  return std::copysign(r, double(x));
}

TEST(TensorCoreFormats, Tf32RoundsToNearestTiesAwayFromZero) {
  EXPECT_EQ(to_tf32(bits_float(0x3f800fff)), 0x3f800000u);  // below half an ulp
  EXPECT_EQ(to_tf32(bits_float(0x3f801000)), 0x3f802000u);  // tie, kept bit even: still away
  EXPECT_EQ(to_tf32(bits_float(0x3f803000)), 0x3f804000u);  // tie, kept bit odd
  EXPECT_EQ(to_tf32(bits_float(0xbf801000)), 0xbf802000u);  // negative tie: away from zero
  EXPECT_EQ(to_tf32(bits_float(0x00001000)), 0x00002000u);  // denormal tie
  EXPECT_EQ(to_tf32(bits_float(0x807ff000)), 0x80800000u);  // largest denormal to the smallest normal
  EXPECT_EQ(to_tf32(bits_float(0x7f7ff000)), 0x7f800000u);  // past the largest tf32: infinity
  EXPECT_EQ(to_tf32(bits_float(0xff800000)), 0xff800000u);
  EXPECT_EQ(to_tf32(bits_float(0x7fc01234)), 0x7fc00000u);  // NaN: truncated, still NaN
  EXPECT_EQ(to_tf32(bits_float(0xffffffff)), 0xffffe000u);
  auto rng = test_rng();
  for (float x : conversion_inputs(rng)) {
    if (std::isnan(x)) continue;
    const float got = bits_float(to_tf32(x));
    const double expected = round_to_format(x, 10, true);
    EXPECT_TRUE(got == expected && std::signbit(got) == std::signbit(expected))
        << fmt::format("x = {:#010x}: got {:#010x}, expected {}", float_bits(x), float_bits(got), expected);
    EXPECT_EQ(float_bits(got) & 0x1fffu, 0u) << fmt::format("x = {:#010x}", float_bits(x));
  }
}

TEST(TensorCoreFormats, Bf16RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(bits_float(0x3f808000)), 0x3f80);  // tie, kept bit even: stays
  EXPECT_EQ(to_bf16(bits_float(0x3f818000)), 0x3f82);  // tie, kept bit odd: up
  EXPECT_EQ(to_bf16(bits_float(0x3f808001)), 0x3f81);
  EXPECT_EQ(to_bf16(bits_float(0xbf818000)), 0xbf82);
  EXPECT_EQ(to_bf16(bits_float(0x00018000)), 0x0002);  // denormal tie
  EXPECT_EQ(to_bf16(bits_float(0x7f7f8000)), 0x7f80);  // past the largest bf16: infinity
  EXPECT_EQ(to_bf16(bits_float(0xff800000)), 0xff80);
  EXPECT_EQ(to_bf16(bits_float(0xffc01234)), 0x7fff);  // NaN: the canonical one
  EXPECT_EQ(to_bf16(bits_float(0x7f800001)), 0x7fff);
  auto rng = test_rng();
  for (float x : conversion_inputs(rng)) {
    if (std::isnan(x)) continue;
    const float got = bf16_value(to_bf16(x));
    const double expected = round_to_format(x, 7, false);
    EXPECT_TRUE(got == expected && std::signbit(got) == std::signbit(expected))
        << fmt::format("x = {:#010x}: got {:#06x}, expected {}", float_bits(x), to_bf16(x), expected);
  }
}

TEST(TensorCoreFormats, PackBf16x2PutsTheFirstValueInTheLowHalf) {
  EXPECT_EQ(pack_bf16x2(1.0f, -2.0f), 0xc0003f80u);
  EXPECT_EQ(pack_bf16x2(bits_float(0x3f818000), 0.0f), 0x00003f82u);
}

// Each layout hands every element of its matrix to exactly one (lane, register) slot, and agrees
// with the PTX ISA's formulas, transcribed here as the ISA writes them (groupID = lane >> 2,
// threadID_in_group = lane % 4).
template <typename Layout, typename Isa>
void expect_layout(int rows, int cols, int per_lane, Layout layout, Isa isa) {
  std::vector<int> hits(size_t(rows * cols));
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < per_lane; ++i) {
      const FragmentCoord p = layout(lane, i), expected = isa(lane >> 2, lane % 4, i);
      EXPECT_TRUE(p.row == expected.row && p.col == expected.col)
          << fmt::format("lane {} element {}: ({}, {}), the ISA says ({}, {})", lane, i, p.row, p.col, expected.row,
                         expected.col);
      ASSERT_TRUE(p.row >= 0 && p.row < rows && p.col >= 0 && p.col < cols) << "lane " << lane << " element " << i;
      ++hits[size_t(p.row * cols + p.col)];
    }
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(TensorCoreLayouts, FragmentsFollowThePtxIsaAndCoverTheirMatrixOnce) {
  // "Matrix Fragments for mma.m16n8k8", .tf32: a0..a3, b0..b1; accumulators c0..c3.
  expect_layout(16, 8, 4, mma_m16n8k8_tf32_a, [](int group, int tig, int i) {
    return FragmentCoord{i == 0 || i == 2 ? group : group + 8, i == 0 || i == 1 ? tig : tig + 4};
  });
  expect_layout(8, 8, 2, mma_m16n8k8_tf32_b,
                [](int group, int tig, int i) { return FragmentCoord{i == 0 ? tig : tig + 4, group}; });
  expect_layout(16, 8, 4, mma_m16n8_c, [](int group, int tig, int i) {
    return FragmentCoord{i < 2 ? group : group + 8, tig * 2 + (i & 0x1)};
  });
  // "Matrix Fragments for mma.m16n8k16 with floating point type", .bf16: a0..a7 (two a register),
  // b0..b3.
  expect_layout(16, 16, 8, mma_m16n8k16_bf16_a, [](int group, int tig, int i) {
    return FragmentCoord{(0 <= i && i < 2) || (4 <= i && i < 6) ? group : group + 8,
                         i < 4 ? tig * 2 + (i & 0x1) : tig * 2 + (i & 0x1) + 8};
  });
  expect_layout(16, 8, 4, mma_m16n8k16_bf16_b, [](int group, int tig, int i) {
    return FragmentCoord{i < 2 ? tig * 2 + (i & 0x1) : tig * 2 + (i & 0x1) + 8, group};
  });
  // ldmatrix, "Figure 104": lane 4·row + c/2 holds row `row`, columns c and c+1; .trans loads the
  // matrix column-major.
  expect_layout(8, 8, 2, [](int lane, int half) { return ldmatrix_m8n8_element(lane, half, false); },
                [](int group, int tig, int half) { return FragmentCoord{group, 2 * tig + half}; });
  expect_layout(8, 8, 2, [](int lane, int half) { return ldmatrix_m8n8_element(lane, half, true); },
                [](int group, int tig, int half) { return FragmentCoord{2 * tig + half, group}; });
}

// ---- sim only: what the emulator must catch ---------------------------------------------------

TEST(SimTensorCore, WrongFragmentIndexGivesAWrongProduct) {
  auto rng = test_rng();
  const Device sim = Device::sim();
  const int tiles = 4;
  Tensor a = test::random_tensor({tiles, 16, 8}, rng, sim, -2.0f, 2.0f);
  Tensor b = test::random_tensor({tiles, 8, 8}, rng, sim, -2.0f, 2.0f);
  Tensor c = test::random_tensor({tiles, 16, 8}, rng, sim, -2.0f, 2.0f);
  const MmaReference ref =
      mma_reference(a.to_vector<float>(), b.to_vector<float>(), c.to_vector<float>(), tiles, 16, 8, 8, tf32_rounded);
  for (FragmentBug bug : {FragmentBug::a1_a2_swapped, FragmentBug::b_transposed}) {
    Tensor d = Tensor::full({tiles, 16, 8}, NAN, DType::f32, sim);
    sim::test::mma_tf32_tiles(a.data<float>(), b.data<float>(), c.data<float>(), d.data<float>(), tiles, true, bug);
    // Most of the 512 elements must be wrong, not just a few.
    EXPECT_GT(count_mismatches(d.to_vector<float>(), ref, false), 256) << "bug " << int(bug);
  }
}

TEST(SimTensorCore, ReadingACpAsyncDestinationBeforeTheWaitGivesNaN) {
  auto rng = test_rng();
  Tensor in = test::random_tensor({32 * 4}, rng, Device::sim());
  Tensor early = Tensor::zeros({32}, DType::f32, Device::sim());
  Tensor late = Tensor::zeros({32}, DType::f32, Device::sim());
  sim::test::cp_async_read_before_wait(in.data<float>(), early.data<float>(), late.data<float>());
  const std::vector<float> x = in.to_vector<float>(), e = early.to_vector<float>(), l = late.to_vector<float>();
  for (int t = 0; t < 32; ++t) {
    EXPECT_TRUE(std::isnan(e[size_t(t)])) << "thread " << t << " read " << e[size_t(t)] << " before the wait";
    EXPECT_EQ(l[size_t(t)], x[size_t(4 * t)]) << "thread " << t << " after the wait";
  }
}

TEST(SimTensorCore, NewerGroupsAndUncommittedCopiesStayPoisonedUntilTheirWait) {
  auto rng = test_rng();
  Tensor in = test::random_tensor({16}, rng, Device::sim());
  Tensor out = Tensor::zeros({48}, DType::f32, Device::sim());
  sim::test::cp_async_groups(in.data<float>(), out.data<float>());
  const std::vector<float> x = in.to_vector<float>(), y = out.to_vector<float>();
  for (int i = 0; i < 16; ++i) {
    const bool done_after_wait1 = i < 8, done_after_wait0 = i < 12;
    EXPECT_EQ(std::isnan(y[size_t(i)]), !done_after_wait1) << "after wait_group 1, element " << i;
    EXPECT_EQ(std::isnan(y[size_t(16 + i)]), !done_after_wait0) << "after wait_group 0, element " << i;
    EXPECT_EQ(y[size_t(32 + i)], x[size_t(i)]) << "after wait_all, element " << i;
  }
}

TEST(SimTensorCore, InstructionsCountInTheStats) {
  auto rng = test_rng();
  const Device sim = Device::sim();
  const int tiles = 8;
  Tensor a = test::random_tensor({tiles, 16, 16}, rng, sim);
  Tensor b = test::random_tensor({tiles, 16, 8}, rng, sim);
  Tensor c = test::random_tensor({tiles, 16, 8}, rng, sim);
  Tensor d = Tensor::full({tiles, 16, 8}, NAN, DType::f32, sim);
  const simt::Stats before = simt::stats();
  sim::test::mma_bf16_tiles(a.data<float>(), b.data<float>(), c.data<float>(), d.data<float>(), tiles, true);
  const simt::Stats after = simt::stats();
  EXPECT_EQ(after.mma - before.mma, uint64_t(tiles));
  EXPECT_EQ(after.ldmatrix - before.ldmatrix, uint64_t(2 * tiles));
  EXPECT_GE(after.warp_collectives - before.warp_collectives, uint64_t(3 * tiles));

  Tensor in = test::random_tensor({16}, rng, sim);
  Tensor out = Tensor::zeros({48}, DType::f32, sim);
  const simt::Stats before_copies = simt::stats();
  sim::test::cp_async_groups(in.data<float>(), out.data<float>());
  EXPECT_EQ(simt::stats().async_copies - before_copies.async_copies, 4u);
}

TEST(SimTensorCoreErrors, MmaInHalfAWarpIsReported) {
  Tensor out = Tensor::zeros({32}, DType::f32, Device::sim());
  expect_error_containing([&] { sim::test::mma_in_half_a_warp(out.data<float>()); },
                          "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32");
}

TEST(SimTensorCoreErrors, MmaInAPartialWarpIsReported) {
  Tensor out = Tensor::zeros({48}, DType::f32, Device::sim());
  expect_error_containing([&] { sim::test::mma_in_partial_warp(out.data<float>()); }, "all 32 lanes of a warp");
}

TEST(SimTensorCoreErrors, MisalignedLdmatrixIsReported) {
  Tensor out = Tensor::zeros({32}, DType::i32, Device::sim());
  expect_error_containing(
      [&] { sim::test::ldmatrix_misaligned(reinterpret_cast<uint32_t*>(out.data<int32_t>())); },
      "not 16-byte aligned");
}

TEST(SimTensorCoreErrors, LdmatrixFromGlobalMemoryIsReported) {
  Tensor rows = Tensor::zeros({64}, DType::i32, Device::sim());
  Tensor out = Tensor::zeros({32}, DType::i32, Device::sim());
  expect_error_containing(
      [&] {
        sim::test::ldmatrix_from_global(reinterpret_cast<const uint16_t*>(rows.data<int32_t>()),
                                        reinterpret_cast<uint32_t*>(out.data<int32_t>()));
      },
      "not in the block's shared memory");
}

TEST(SimTensorCoreErrors, MisalignedCpAsyncIsReported) {
  Tensor in = Tensor::zeros({4}, DType::f32, Device::sim());
  Tensor out = Tensor::zeros({32}, DType::f32, Device::sim());
  expect_error_containing([&] { sim::test::cp_async_misaligned(in.data<float>(), out.data<float>()); },
                          "must be aligned to the copy size");
}

TEST(SimTensorCoreErrors, CpAsyncNeverWaitedForIsReported) {
  Tensor in = Tensor::zeros({4}, DType::f32, Device::sim());
  Tensor out = Tensor::zeros({32}, DType::f32, Device::sim());
  expect_error_containing([&] { sim::test::cp_async_never_waited(in.data<float>(), out.data<float>()); },
                          "never waited for");
}

}  // namespace
}  // namespace i2v
