// bf16: the rounding (kernels/bfloat16.h) against a reference written another way, and bf16
// tensors on every device: casts to and from f32 and f64, fills, copies, and the operations that
// refuse them.
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/bfloat16.h"
#include "nn/layers/global_avg_pool.h"
#include "nn/layers/linear.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::test_rng;

// ---- the reference --------------------------------------------------------------------------
// The nearest bf16 to x, ties to even, from the definition and integer arithmetic (not the
// add-and-shift of to_bf16): x = M·2^(e−53) with M a 53-bit integer; bf16's spacing at x is
// 2^q, q = max(exponent of x, −126) − 7 (below 2^−126 the spacing stays 2^−133: subnormals);
// x / 2^q = M / 2^(q−e+53) split into quotient and remainder decides. A bf16's bits are then
// (biased exponent − 1)·128 + quotient, which also covers subnormals (biased exponent 1, a
// quotient below 128) and a quotient of 256 (the next binade); bits at or past 0x7f80 are beyond
// the largest finite bf16: infinity. Every f32 is a double, so this is the reference for both.
uint16_t reference_bf16(double x) {
  if (std::isnan(x)) return 0x7fff;  // cvt.rn.bf16.f32's canonical NaN
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (std::isinf(a)) return sign | 0x7f80;
  if (a == 0) return sign;
  int e;
  const double fraction = std::frexp(a, &e);  // a = fraction·2^e, fraction in [0.5, 1)
  const auto m = uint64_t(std::ldexp(fraction, 53));
  const int exponent = std::max(e - 1, -126);
  const int shift = (exponent - 7) - (e - 53);  // at least 45
  uint64_t quotient = 0;
  if (shift < 64) {
    quotient = m >> shift;
    const uint64_t remainder = m & ((uint64_t(1) << shift) - 1), half = uint64_t(1) << (shift - 1);
    if (remainder > half || (remainder == half && (quotient & 1))) ++quotient;
  }  // else x < 2^(q−1): rounds to zero
  const uint64_t bits = uint64_t(exponent + 127 - 1) * 128 + quotient;
  return sign | uint16_t(std::min<uint64_t>(bits, 0x7f80));
}

uint32_t bits_of(float x) { return float_bits(x); }

// ---- rounding f32 --------------------------------------------------------------------------------

// Each case by bit reasoning: an f32 0xSEEMMMMM keeps its upper 16 bits; the lower 16 decide
// (below 0x8000 down, above up, 0x8000 a tie to the even upper half).
TEST(Bf16Rounding, EdgeCasesOfCvtRnBf16F32) {
  struct Case {
    uint32_t f32;
    uint16_t bf16;
    const char* what;
  };
  const Case cases[] = {
      {0x3f800000, 0x3f80, "1 is exact"},
      {0x3f807fff, 0x3f80, "just below the tie: down"},
      {0x3f808000, 0x3f80, "tie, kept part even (0x3f80): stays"},
      {0x3f808001, 0x3f81, "just above the tie: up"},
      {0x3f818000, 0x3f82, "tie, kept part odd (0x3f81): up to even"},
      {0xbf818000, 0xbf82, "negative tie: the magnitude rounds the same"},
      {0x3fffffff, 0x4000, "mantissa carry steps the exponent (2 - ulp to 2)"},
      {0x80000000, 0x8000, "-0 keeps its sign"},
      {0x00000001, 0x0000, "the smallest f32 subnormal: to +0"},
      {0x00008000, 0x0000, "subnormal tie, even: to 0"},
      {0x00008001, 0x0001, "above the subnormal tie: the smallest bf16 subnormal 2^-133"},
      {0x00018000, 0x0002, "subnormal tie, odd: up"},
      {0x807fffff, 0x8080, "the largest f32 subnormal rounds up into the smallest normal"},
      {0x00800000, 0x0080, "the smallest normal 2^-126 is exact"},
      {0x7f7f0000, 0x7f7f, "the largest finite bf16 (3.3895e38) is exact"},
      {0x7f7f7fff, 0x7f7f, "just below halfway to 2^128: the largest finite"},
      {0x7f7f8000, 0x7f80, "halfway to 2^128, kept part odd: rounds up into infinity"},
      {0x7f7fffff, 0x7f80, "FLT_MAX: infinity"},
      {0xff7fffff, 0xff80, "-FLT_MAX: -infinity"},
      {0x7f800000, 0x7f80, "+inf stays"},
      {0xff800000, 0xff80, "-inf stays"},
      {0x7fc00000, 0x7fff, "quiet NaN: the canonical NaN"},
      {0xffc01234, 0x7fff, "negative NaN with a payload: the canonical NaN"},
      {0x7f800001, 0x7fff, "signalling NaN whose payload is only in the dropped bits: still a NaN"},
  };
  for (const Case& c : cases) {
    const float x = bits_float(c.f32);
    EXPECT_EQ(to_bf16(x), c.bf16) << std::hex << c.f32 << ": " << c.what;
    EXPECT_EQ(reference_bf16(x), c.bf16) << std::hex << c.f32 << " (the reference): " << c.what;
    EXPECT_EQ(to_bf16_f64(double(x)), c.bf16) << std::hex << c.f32 << " (from double): " << c.what;
  }
  // 0x7fff is a quiet NaN: exponent all ones, the top mantissa bit set.
  EXPECT_TRUE(std::isnan(bf16_value(0x7fff)));
  EXPECT_EQ(bits_of(bf16_value(0x7fff)) & 0x00400000u, 0x00400000u);
}

// Every upper half (all signs, exponents and kept mantissas, so every bf16) with the lower
// halves where rounding decides: 0, 1, just below, at and above the tie, all ones, and random.
TEST(Bf16Rounding, AgreesWithTheReferenceOverEveryBf16AndEveryTie) {
  auto rng = test_rng();
  const uint32_t lower_halves[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff};
  int64_t checked = 0;
  for (uint32_t upper = 0; upper < 0x10000; ++upper) {
    for (int k = 0; k < 8; ++k) {
      const uint32_t lower = k < 6 ? lower_halves[k] : uint32_t(rng() & 0xffff);
      const float x = bits_float(upper << 16 | lower);
      const uint16_t got = to_bf16(x), want = reference_bf16(x);
      if (got != want) {
        ADD_FAILURE() << std::hex << "x = 0x" << (upper << 16 | lower) << ": got 0x" << got << ", want 0x" << want;
        return;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8 * 65536);
}

TEST(Bf16Rounding, WideningIsExactAndRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float wide = bf16_value(uint16_t(bits));
    ASSERT_EQ(bits_of(wide), bits << 16) << std::hex << bits;
    const uint16_t back = to_bf16(wide);
    if (std::isnan(wide))
      ASSERT_EQ(back, 0x7fff) << std::hex << bits;
    else
      ASSERT_EQ(back, bits) << std::hex << bits;
  }
}

// ---- rounding f64 --------------------------------------------------------------------------------

// A double is rounded once. Through an f32 first it could be rounded twice, and the cases below
// are where that gives another answer.
TEST(Bf16Rounding, DoublesRoundOnce) {
  const double just_above_tie = 1 + std::ldexp(1, -8) + std::ldexp(1, -32);
  EXPECT_EQ(to_bf16(float(just_above_tie)), 0x3f80);  // as an f32 it is the tie itself
  EXPECT_EQ(to_bf16_f64(just_above_tie), 0x3f81);
  const double just_below_tie = 1 + std::ldexp(1, -8) - std::ldexp(1, -40);
  EXPECT_EQ(to_bf16_f64(just_below_tie), 0x3f80);
  const double odd_tie_minus = 1 + 3 * std::ldexp(1, -8) - std::ldexp(1, -40);  // below the tie of 0x3f81/0x3f82
  EXPECT_EQ(to_bf16(float(odd_tie_minus)), 0x3f82);
  EXPECT_EQ(to_bf16_f64(odd_tie_minus), 0x3f81);
  EXPECT_EQ(to_bf16_f64(1 + std::ldexp(1, -8)), 0x3f80);  // an exact tie still goes to even
  // Just below halfway between the largest bf16 and 2^128: the largest finite, although the
  // nearest f32 is the halfway point itself (which rounds to infinity).
  const double halfway = std::ldexp(255.5, 120);
  const double below_halfway = halfway - std::ldexp(1, 80);
  EXPECT_EQ(to_bf16(float(below_halfway)), 0x7f80);
  EXPECT_EQ(to_bf16_f64(below_halfway), 0x7f7f);
  EXPECT_EQ(to_bf16_f64(halfway), 0x7f80);
  EXPECT_EQ(to_bf16_f64(1e300), 0x7f80);
  EXPECT_EQ(to_bf16_f64(-1e300), 0xff80);
  EXPECT_EQ(to_bf16_f64(1e-300), 0x0000);
  EXPECT_EQ(to_bf16_f64(-1e-300), 0x8000);
  // Halfway between 0 and the smallest bf16 subnormal is a tie to 0; above it, 2^-133 (as an f32,
  // 2^-134 + 2^-180 is 2^-134, the tie, again).
  EXPECT_EQ(to_bf16_f64(std::ldexp(1, -134)), 0x0000);
  EXPECT_EQ(to_bf16(float(std::ldexp(1, -134) + std::ldexp(1, -180))), 0x0000);
  EXPECT_EQ(to_bf16_f64(std::ldexp(1, -134) + std::ldexp(1, -180)), 0x0001);
  EXPECT_EQ(to_bf16_f64(std::numeric_limits<double>::infinity()), 0x7f80);
  EXPECT_EQ(to_bf16_f64(std::nan("")), 0x7fff);

  auto rng = test_rng();
  std::uniform_int_distribution<int> exponent(-150, 130);
  std::uniform_real_distribution<double> fraction(1.0, 2.0);
  for (int i = 0; i < 200000; ++i) {
    double x = std::ldexp(fraction(rng), exponent(rng)) * (rng() & 1 ? -1 : 1);
    if (i % 4 == 0) {
      // A tie (halfway between two neighbouring finite bf16, exact in double), or one double
      // ulp either side of it.
      const auto below = uint16_t(rng() % 0x7f7f);
      const double tie = (double(bf16_value(below)) + double(bf16_value(uint16_t(below + 1)))) / 2;
      const int nudge = int(rng() % 3);
      x = nudge == 0 ? tie : std::nextafter(tie, nudge == 1 ? 0.0 : INFINITY);
      if (rng() & 1) x = -x;
    }
    ASSERT_EQ(to_bf16_f64(x), reference_bf16(x)) << std::hexfloat << x;
  }
}

// ---- the storage type ------------------------------------------------------------------------------

TEST(Bf16Type, ConvertsExplicitlyInAndImplicitlyOut) {
  const bfloat16 third(1.0f / 3.0f);
  EXPECT_EQ(third.bits, 0x3eab);  // 1/3 = 0x3eaaaaab as f32: the lower half 0xaaab rounds up
  const float widened = third;
  EXPECT_EQ(widened, bf16_value(0x3eab));
  EXPECT_EQ(bfloat16(1.0 / 3.0).bits, 0x3eab);
  EXPECT_EQ(bfloat16::from_bits(0xc000), -2.0f);
  EXPECT_EQ(sizeof(bfloat16), 2u);
}

// ---- bf16 tensors on every device ---------------------------------------------------------------------

class Bf16TensorTest : public testing::TestWithParam<Device> {};

// f32 values where rounding is interesting, then random ones of every magnitude.
std::vector<float> interesting_floats(std::mt19937_64& rng, size_t count) {
  std::vector<float> values;
  for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x7f7f8000u, 0x7f7f7fffu, 0x00018000u, 0x807fffffu,
                        0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc01234u, 0x7f800001u})
    values.push_back(bits_float(bits));
  while (values.size() < count) values.push_back(bits_float(uint32_t(rng())));
  return values;
}

std::vector<uint16_t> bits_of(const std::vector<bfloat16>& values) {
  std::vector<uint16_t> bits;
  for (const bfloat16& v : values) bits.push_back(v.bits);
  return bits;
}

TEST_P(Bf16TensorTest, CastFromF32RoundsAsTheHostDoesAndWidensBackExactly) {
  const Device device = GetParam();
  auto rng = test_rng();
  const std::vector<float> values = interesting_floats(rng, 3001);
  const Tensor narrow = Tensor::from_vector(values, {3001}, device).cast(DType::bf16);
  EXPECT_EQ(narrow.dtype(), DType::bf16);
  EXPECT_EQ(narrow.device(), device);
  EXPECT_EQ(narrow.nbytes(), 3001u * 2);
  const std::vector<uint16_t> got = bits_of(narrow.to_vector<bfloat16>());
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(got[i], reference_bf16(values[i])) << std::hex << bits_of(values[i]);

  const std::vector<float> wide = narrow.cast(DType::f32).to_vector<float>();
  const std::vector<double> wider = narrow.cast(DType::f64).to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(bits_of(wide[i]), uint32_t(got[i]) << 16) << i;
    ASSERT_TRUE(std::isnan(wider[i]) ? std::isnan(wide[i]) : wider[i] == double(wide[i])) << i;
  }
  // f32 -> bf16 -> f32 -> bf16 changes nothing more.
  EXPECT_EQ(bits_of(narrow.cast(DType::f32).cast(DType::bf16).to_vector<bfloat16>()), got);
}

TEST_P(Bf16TensorTest, CastFromF64RoundsOnce) {
  const Device device = GetParam();
  auto rng = test_rng();
  std::vector<double> values = {1 + std::ldexp(1, -8) + std::ldexp(1, -32), std::ldexp(255.5, 120) - std::ldexp(1, 80),
                                 -1e300, 1e-300, std::nan("")};
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  while (values.size() < 1000) values.push_back(uniform(rng) * std::ldexp(1, int(rng() % 200) - 100));
  const Tensor narrow = Tensor::from_vector(values, {10, 100}, device).cast(DType::bf16);
  const std::vector<uint16_t> got = bits_of(narrow.to_vector<bfloat16>());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(got[i], reference_bf16(values[i])) << std::hexfloat << values[i];
  EXPECT_EQ(got[0], 0x3f81);
  EXPECT_EQ(got[1], 0x7f7f);
}

TEST_P(Bf16TensorTest, CastsOfNonContiguousViewsAndEmptyTensors) {
  const Device device = GetParam();
  auto rng = test_rng();
  const Tensor host = test::random_tensor({3, 4, 5}, rng);
  const Tensor view = host.to(device).permute({2, 0, 1}).slice(0, 1, 5, 2);  // [2, 3, 4], strided
  ASSERT_FALSE(view.is_contiguous());
  const std::vector<float> expected = view.contiguous().to_vector<float>();
  const std::vector<bfloat16> got = view.cast(DType::bf16).to_vector<bfloat16>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bits, to_bf16(expected[i])) << i;
  EXPECT_EQ(Tensor::empty({0, 3}, DType::f32, device).cast(DType::bf16).shape(), Shape({0, 3}));
}

// copy_from between floating dtypes converts as cast() does, into part of a tensor (a slice of
// it: how the bf16 layers write a piece), from a strided source; across devices it refuses.
TEST_P(Bf16TensorTest, CopyFromConvertsIntoASlice) {
  const Device device = GetParam();
  auto rng = test_rng();
  const Tensor source = test::random_tensor({4, 6}, rng, device).transpose(0, 1);  // [6, 4], strided
  Tensor into = Tensor::full({10, 4}, 3.0, DType::bf16, device);
  into.slice(0, 2, 8).copy_from(source);
  const std::vector<float> got = into.cast(DType::f32).to_vector<float>(),
                           expected = source.cast(DType::bf16).cast(DType::f32).to_vector<float>();
  for (int64_t i = 0; i < 40; ++i) {
    const bool copied = i >= 8 && i < 32;
    EXPECT_EQ(got[size_t(i)], copied ? expected[size_t(i - 8)] : 3.0f) << i;
  }
  Tensor wide = Tensor::empty({6, 4}, DType::f32, device);
  wide.copy_from(into.slice(0, 2, 8));
  EXPECT_EQ(wide.to_vector<float>(), expected) << "widening is exact";
  if (!device.is_cpu()) {
    Tensor on_cpu = Tensor::empty({6, 4}, DType::bf16, Device::cpu());
    test::expect_error_containing([&] { on_cpu.copy_from(wide); }, "on the source's device");
  }
}

TEST_P(Bf16TensorTest, FillsCopiesAndMovesBetweenDevices) {
  const Device device = GetParam();
  EXPECT_EQ(bits_of(Tensor::zeros({3}, DType::bf16, device).to_vector<bfloat16>()),
            (std::vector<uint16_t>{0, 0, 0}));
  // 1/3 from a double, rounded once: 0x3eab.
  const Tensor third = Tensor::full({2, 3}, 1.0 / 3.0, DType::bf16, device);
  EXPECT_EQ(bits_of(third.to_vector<bfloat16>()), std::vector<uint16_t>(6, 0x3eab));
  EXPECT_EQ(third.item<bfloat16>({1, 2}).bits, 0x3eab);
  EXPECT_EQ(bits_of(Tensor::full({1}, 1e300, DType::bf16, device).to_vector<bfloat16>()),
            std::vector<uint16_t>{0x7f80});

  std::vector<bfloat16> values;
  for (uint16_t bits = 0; bits < 24; ++bits) values.push_back(bfloat16::from_bits(uint16_t(0x3f80 + bits * 0x111)));
  const Tensor t = Tensor::from_vector(values, {4, 6}, device);
  EXPECT_EQ(bits_of(t.to(Device::cpu()).to_vector<bfloat16>()), bits_of(values));
  EXPECT_EQ(bits_of(t.to(Device::sim()).to(device).to_vector<bfloat16>()), bits_of(values));
  // A strided copy moves the 2-byte elements to their places.
  const std::vector<bfloat16> transposed = t.transpose(0, 1).contiguous().to_vector<bfloat16>();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c) EXPECT_EQ(transposed[size_t(c * 4 + r)].bits, values[size_t(r * 6 + c)].bits);
  Tensor column = t.clone().select(1, 2);
  column.fill_(-2.0);
  Tensor target = Tensor::zeros({4}, DType::bf16, device);
  target.copy_from(column);
  EXPECT_EQ(bits_of(target.to_vector<bfloat16>()), std::vector<uint16_t>(4, 0xc000));
  EXPECT_EQ(Tensor::from_vector(std::vector<bfloat16>{bfloat16(0.5f), bfloat16(-3.0f)}, {2}, device).str(),
            "Tensor bf16 [2] on " + device.name() + " {0.5, -3}");
}

TEST_P(Bf16TensorTest, CastsToAndFromIntegersGoThroughTheValue) {
  const Device device = GetParam();
  const Tensor counts = Tensor::from_vector(std::vector<int32_t>{0, 7, 257, -300}, {4}, device);
  // 257 needs 9 significant bits: a tie between 256 and 258, to even 256.
  EXPECT_EQ(counts.cast(DType::bf16).cast(DType::f32).to_vector<float>(), (std::vector<float>{0, 7, 256, -300}));
  const Tensor halves = Tensor::full({2}, 2.5, DType::bf16, device);
  EXPECT_EQ(halves.cast(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{2, 2}));
}

TEST_P(Bf16TensorTest, LayersRefuseBf16NamingTheDtype) {
  const Device device = GetParam();
  test::expect_error_containing(
      [&] { Tensor::zeros({2}, DType::bf16, device).data<float>(); }, "holds bf16, not f32");
  Linear linear(3, 2);
  test::expect_error_containing([&] { linear.to(device, DType::bf16); }, "parameters cannot be bf16");
  // A layer that reads f32 only (Layer::Bf16::widened: a model widens bf16 for it).
  GlobalAvgPool pool;
  test::expect_error_containing(
      [&] { pool.forward({Tensor::zeros({4, 3, 2, 2}, DType::bf16, device)}, Mode::eval); }, "bf16");
}

INSTANTIATE_TEST_SUITE_P(Devices, Bf16TensorTest, testing::ValuesIn(test::all_devices()), test::device_name);

}  // namespace
}  // namespace i2v
