// The CPU's matrix products in bf16 (kernels/precision.h; kernels/gemm.h's CpuArithmetic), on each
// path a CPU can take, all reachable here by switching CPU features off (CpuFeatureOff):
//   amx              AMX-BF16: the same pairs on tiles (TDPBF16PS), A's as rows of pairs;
//   vdpbf16ps        AVX-512 BF16: bf16 pairs packed along k, vdpbf16ps sums them;
//   avx512_rounded   AVX-512 without BF16: packed operands rounded, the fp32 micro-kernel;
//   eigen_rounded    no AVX-512: Eigen on rounded copies.
// The GEMM against a double product of the operands rounded by to_bf16 (kernels/
// tensor_core_fragments.h), to fp32 summation error, over odd shapes, every block edge, transposes,
// padded strides, alpha and beta; ties to even, overflow to infinity and NaN one by one (a
// truncating or ties-away rounding fails both); Conv2d (fused AVX-512 and im2col paths) and Linear
// forward and both gradients: against fp32 on the rounded operands (tightly), and against fp32 on
// the same operands (~1e-2 normwise, and not equal: bf16 did run).
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "kernels/tensor_core_fragments.h"
#include "nn/layers/conv2d.h"
#include "nn/layers/linear.h"
#include "tests/layer_check.h"
#include "tests/gemm_reference.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::round_bf16;
using test::rounded_bf16;

struct Bf16Path {
  std::string name;
  bool avx512f, avx512_bf16, amx_bf16;  // what the path uses
  cpu::CpuArithmetic arithmetic;
};

const Bf16Path kPaths[] = {
    {"amx", true, false, true, cpu::CpuArithmetic::bf16_amx},
    {"vdpbf16ps", true, true, false, cpu::CpuArithmetic::bf16_pairs},
    {"avx512_rounded", true, false, false, cpu::CpuArithmetic::bf16_rounded},
    {"eigen_rounded", false, false, false, cpu::CpuArithmetic::bf16_rounded},
};

// Every test runs at Precision::bf16 on its path: the features the path does not use are
// switched off; a CPU without those it uses skips it.
class CpuBf16 : public testing::TestWithParam<Bf16Path> {
 protected:
  void SetUp() override {
    const Bf16Path& path = GetParam();
    if (path.avx512f && !cpu_has_avx512f()) GTEST_SKIP() << "this CPU has no AVX-512";
    if (path.avx512_bf16 && !cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
    if (path.amx_bf16 && !cpu_has_amx_bf16()) GTEST_SKIP() << "this CPU has no AMX-BF16 (or Linux refused the tiles)";
    if (!path.avx512f) avx512f_off_.emplace(CpuFeature::avx512f);
    if (!path.avx512_bf16) avx512_bf16_off_.emplace(CpuFeature::avx512_bf16);
    if (!path.amx_bf16) amx_bf16_off_.emplace(CpuFeature::amx_bf16);
    kernel_.emplace(path.arithmetic);  // whichever the CPU would pick
    precision_.emplace(Precision::bf16);
    ASSERT_EQ(cpu::cpu_arithmetic(), path.arithmetic);
  }

 private:
  std::optional<CpuFeatureOff> avx512f_off_, avx512_bf16_off_, amx_bf16_off_;
  std::optional<cpu::Bf16KernelScope> kernel_;
  std::optional<PrecisionScope> precision_;
};

std::string path_name(const testing::TestParamInfo<Bf16Path>& info) { return info.param.name; }
void PrintTo(const Bf16Path& path, std::ostream* os) { *os << path.name; }

// ---- GEMM --------------------------------------------------------------------------------------

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha, beta;
};

std::string case_name(const GemmCase& g) {
  return fmt::format("{}{} m={} n={} k={} alpha={} beta={}", g.trans_a ? "T" : "N", g.trans_b ? "T" : "N", g.m, g.n,
                     g.k, g.alpha, g.beta);
}

// Runs cpu::gemm for `g` with padded row strides and compares C with the double product of the
// rounded operands. Products of bf16 values are exact in fp32, so what is left is the rounding of
// ≤ k + 2 fp32 additions (the alpha and beta terms too): ≤ (k + 2) · 2⁻²⁴ · Σ|terms|, allowed
// with a margin of 3 (2e-7 · (k + 4)). An operand rounded any other way (truncated, ties away,
// not at all) moves a product by up to 2⁻⁸ of itself: far outside for small k, and outside for
// some element for large k.
void check_gemm(const GemmCase& g, std::mt19937_64& rng) {
  SCOPED_TRACE(case_name(g));
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = g.n + 5;
  const std::vector<float> a = test::random_tensor({a_rows, lda}, rng).to_vector<float>();
  const std::vector<float> b = test::random_tensor({b_rows, ldb}, rng).to_vector<float>();
  std::vector<float> c0 = test::random_tensor({g.m, ldc}, rng).to_vector<float>();
  if (g.beta == 0.0f) std::fill(c0.begin(), c0.end(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> c = c0;
  cpu::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c.data(), ldc);

  test::expect_gemm_matches_reference({g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, g.beta, lda, ldb, ldc},
                                      rounded_bf16(a), rounded_bf16(b), c0, c);
}

// Shapes crossing the AVX-512 kernel's 8×48 micro-tiles (and its 1- and 2-vector edge tiles),
// odd depths (a pair half of zero), several 256-deep blocks with an odd last one (k = 1031),
// several row blocks (m = 300) and column blocks (n = 4700).
TEST_P(CpuBf16, GemmMatchesProductOfRoundedOperands) {
  auto rng = test::test_rng();
  const std::vector<std::array<int64_t, 3>> shapes = {{1, 1, 1},     {7, 5, 3},     {9, 47, 17},  {13, 49, 33},
                                                      {8, 48, 16},   {31, 97, 300}, {300, 67, 45}, {3, 4700, 5},
                                                      {17, 50, 1031}};
  for (const auto& [m, n, k] : shapes)
    for (int t = 0; t < 4; ++t)
      for (const auto& [alpha, beta] : {std::pair{1.0f, 0.0f}, std::pair{-0.75f, 0.5f}})
        check_gemm({(t & 1) != 0, (t & 2) != 0, m, n, k, alpha, beta}, rng);
}

// A C of over 8 MiB takes the AVX-512 kernel's 512-deep blocks; k = 701 needs two, the last odd.
// 300 sampled elements are checked.
TEST_P(CpuBf16, GemmWithDeepBlocksMatchesProductOfRoundedOperands) {
  auto rng = test::test_rng();
  const int64_t m = 1029, n = 2050, k = 701;
  for (const auto& [trans_a, trans_b] : {std::pair{false, false}, std::pair{true, true}}) {
    SCOPED_TRACE(fmt::format("trans_a {} trans_b {}", trans_a, trans_b));
    const std::vector<float> a = test::random_tensor({m * k}, rng).to_vector<float>();
    const std::vector<float> b = test::random_tensor({k * n}, rng).to_vector<float>();
    std::vector<float> c = test::random_tensor({m * n}, rng).to_vector<float>();
    const std::vector<float> c0 = c, ra = rounded_bf16(a), rb = rounded_bf16(b);
    const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
    cpu::gemm(trans_a, trans_b, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), n);
    test::expect_gemm_samples_match_reference({trans_a, trans_b, m, n, k, 0.5f, 2.0f, lda, ldb, n}, ra, rb, c0, c, 300,
                                              rng());
  }
}

// C = op(A) · op(B) with k = 1 and the other operand 1: C is the rounded operand itself, exactly.
// The expected values are written out, not computed by to_bf16: ties go to the even neighbour
// (truncation and ties-away each get some of these wrong), the largest floats overflow to
// infinity, infinities stay, NaN stays NaN. Both operands, both layouts.
TEST_P(CpuBf16, RoundsOperandsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -7);  // of bf16 at 1
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::pair<float, float>> cases = {  // value, rounded
      {1.0f + ulp / 2, 1.0f},                                  // a tie: down to the even 1
      {1.0f + 3 * ulp / 2, 1.0f + 2 * ulp},                    // a tie: up to the even 1 + 2 ulp
      {-(1.0f + 3 * ulp / 2), -(1.0f + 2 * ulp)},
      {1.0f + ulp / 2 + ulp / 4096, 1.0f + ulp},               // just above a tie: up
      {1.0f + ulp / 2 - ulp / 4096, 1.0f},                     // just below: down
      {3.0f + 2 * ulp - ulp / 4096, 3.0f + 2 * ulp},           // up (bf16's ulp at 3 is 2 ulp)
      {std::ldexp(1.0f + 3 * ulp / 2, -100), std::ldexp(1.0f + 2 * ulp, -100)},
      {0.1f, 0.10009765625f},                                  // 0x3dcccccd -> 0x3dcd
      {-7.3e5f, -729088.0f},                                   // 0xc9323900 -> 0xc932
      {std::numeric_limits<float>::max(), inf},                // past the largest bf16: infinity
      {-std::numeric_limits<float>::max(), -inf},
      {bits_float(0x7f7f7fffu), bits_float(0x7f7f0000u)},      // the largest float that stays finite
      {inf, inf},
      {-inf, -inf},
      {nan, nan},
  };
  const int64_t count = int64_t(cases.size());
  std::vector<float> values;
  for (const auto& [value, rounded] : cases) values.push_back(value);
  auto check = [&](const std::vector<float>& c, const char* what) {
    for (int64_t i = 0; i < count; ++i) {
      const float expected = cases[size_t(i)].second, got = c[size_t(i)];
      if (std::isnan(expected)) EXPECT_TRUE(std::isnan(got)) << what << " " << i << ": " << got;
      else EXPECT_EQ(float_bits(got), float_bits(expected)) << what << " " << i << ": " << values[size_t(i)]
                                                            << " -> " << got << ", expected " << expected;
    }
  };
  const float one = 1.0f;
  for (bool trans : {false, true}) {
    // A is count × 1 (stored 1 × count when transposed), B is 1 × 1: C is count × 1.
    std::vector<float> c(size_t(count), -1.0f);
    cpu::gemm(trans, false, count, 1, 1, 1.0f, values.data(), trans ? count : 1, &one, 1, 0.0f, c.data(), 1);
    check(c, trans ? "A transposed" : "A");
    // A is 1 × 1, B is 1 × count (stored count × 1 when transposed): C is 1 × count.
    std::fill(c.begin(), c.end(), -1.0f);
    cpu::gemm(false, trans, 1, count, 1, 1.0f, &one, 1, values.data(), trans ? 1 : count, 0.0f, c.data(), count);
    check(c, trans ? "B transposed" : "B");
  }
}

// ---- Conv2d and Linear ---------------------------------------------------------------------------

// What a layer's pass computed: output, input gradient, weight gradient.
struct Pass {
  std::vector<float> y, dx, dw;
};

Pass run_pass(Layer& layer, Parameter& weight, const Tensor& x, const Tensor& dy) {
  layer.zero_grad();
  const Tensor y = layer.forward({x}, Mode::train);
  const std::vector<Tensor> grads = layer.backward(dy, {true});
  return {y.to_vector<float>(), grads.at(0).to_vector<float>(), weight.grad.to_vector<float>()};
}

// ‖got − expected‖ / ‖expected‖.
double normwise_error(const std::vector<float>& got, const std::vector<float>& expected) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += (double(got[i]) - expected[i]) * (double(got[i]) - expected[i]);
    norm += double(expected[i]) * expected[i];
  }
  return std::sqrt(diff / norm);
}

Tensor rounded(const Tensor& t) { return Tensor::from_vector(rounded_bf16(t.to_vector<float>()), t.shape()); }

// Runs `layer` in bf16, and `reference` (the same layer, same parameters) in fp32 twice: on the
// same operands, and on the operands every product of the pass reads (weight, input, output
// gradient) rounded to bf16. Against the second it must agree to fp32 summation error (sums of
// ≤ 600 terms, in another order); against the first within 1e-2 normwise (bf16 keeps 8 bits: an
// operand moves by ≤ 2⁻⁹ of itself, a sum by ~2⁻⁹ normwise), and not exactly (bf16 did run).
void check_layer(Layer& layer, Parameter& weight, Layer& reference, Parameter& reference_weight, const Tensor& x,
                 const Tensor& dy) {
  const Pass bf16 = run_pass(layer, weight, x, dy);
  PrecisionScope fp32(Precision::fp32);
  const Pass same = run_pass(reference, reference_weight, x, dy);
  reference_weight.value = rounded(weight.value);
  const Pass of_rounded = run_pass(reference, reference_weight, rounded(x), rounded(dy));
  for (const auto& [name, got, exact, on_rounded] :
       {std::tuple{"output", &bf16.y, &same.y, &of_rounded.y}, std::tuple{"grad_input", &bf16.dx, &same.dx, &of_rounded.dx},
        std::tuple{"grad_weight", &bf16.dw, &same.dw, &of_rounded.dw}}) {
    SCOPED_TRACE(name);
    EXPECT_LE(normwise_error(*got, *on_rounded), 1e-5);
    const double error = normwise_error(*got, *exact);
    EXPECT_LE(error, 1e-2);
    EXPECT_GT(error, 1e-5) << "the same as fp32: bf16 did not round";
  }
}

struct ConvCase {
  int64_t batch, in, out, height, width;
  Extent2d kernel, stride, padding;
  int64_t budget;  // workspace elements per GEMM group
};

// Odd col rows (27, 585: a pair half of zero; 585 > 512: several depth blocks), 1×1 (with and
// without an im2col workspace), stride 2 and padding, groups of images split over GEMMs.
const ConvCase kConvCases[] = {
    {2, 3, 9, 9, 7, 3, 1, 1, int64_t(1) << 30},
    {2, 65, 10, 6, 5, 3, 1, 1, int64_t(1) << 30},
    {3, 6, 17, 5, 4, 1, 1, 0, int64_t(1) << 30},
    {3, 6, 17, 5, 4, 1, 1, 0, 1},
    {2, 5, 12, 9, 8, 3, 2, 1, int64_t(1) << 30},
    {5, 4, 6, 6, 5, 3, 1, 1, 2 * 36 * 30},
};

std::string conv_name(const ConvCase& c) {
  return fmt::format("batch {} {}x{} ", c.batch, c.height, c.width) +
         Conv2d(c.in, c.out, c.kernel, c.stride, c.padding).describe() + fmt::format(" budget {}", c.budget);
}

TEST_P(CpuBf16, Conv2dForwardAndGradients) {
  auto rng = test::test_rng();
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(conv_name(c));
    Conv2d conv(c.in, c.out, c.kernel, c.stride, c.padding), reference(c.in, c.out, c.kernel, c.stride, c.padding);
    conv.set_workspace_budget(c.budget);
    reference.set_workspace_budget(c.budget);
    test::randomize_parameters(conv, rng);
    reference.weight().value.copy_from(conv.weight().value);
    reference.bias().value.copy_from(conv.bias().value);
    const Tensor x = test::random_tensor({c.batch, c.in, c.height, c.width}, rng);
    const Tensor dy = test::random_tensor(conv.output_shape({x.shape()}), rng);
    check_layer(conv, conv.weight(), reference, reference.weight(), x, dy);
  }
}

TEST_P(CpuBf16, LinearForwardAndGradients) {
  auto rng = test::test_rng();
  for (const auto& [rows, in, out] : {std::array<int64_t, 3>{1, 9, 5}, {7, 33, 50}, {64, 301, 97}}) {
    SCOPED_TRACE(fmt::format("{} rows, {} -> {}", rows, in, out));
    Linear linear(in, out), reference(in, out);
    test::randomize_parameters(linear, rng);
    reference.weight().value.copy_from(linear.weight().value);
    reference.bias().value.copy_from(linear.bias().value);
    const Tensor x = test::random_tensor({rows, in}, rng), dy = test::random_tensor({rows, out}, rng);
    check_layer(linear, linear.weight(), reference, reference.weight(), x, dy);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, CpuBf16, testing::ValuesIn(kPaths), path_name);

// fp32 and tf32 compute in fp32 on the cpu (the same bits), bf16 in bf16.
TEST(CpuArithmetic, FollowsThePrecision) {
  auto rng = test::test_rng();
  const std::vector<float> a = test::random_tensor({40 * 50}, rng).to_vector<float>();
  const std::vector<float> b = test::random_tensor({50 * 30}, rng).to_vector<float>();
  auto product = [&](Precision precision) {
    PrecisionScope scope(precision);
    std::vector<float> c(40 * 30);
    cpu::gemm(false, false, 40, 30, 50, 1.0f, a.data(), 50, b.data(), 30, 0.0f, c.data(), 30);
    return c;
  };
  {
    PrecisionScope scope(Precision::fp32);
    EXPECT_EQ(cpu::cpu_arithmetic(), cpu::CpuArithmetic::fp32);
  }
  {
    PrecisionScope scope(Precision::tf32);
    EXPECT_EQ(cpu::cpu_arithmetic(), cpu::CpuArithmetic::fp32);
  }
  {
    PrecisionScope scope(Precision::bf16);
    EXPECT_EQ(cpu::cpu_arithmetic(), cpu_has_amx_bf16()                ? cpu::CpuArithmetic::bf16_amx
                                     : cpu::cpu_dpbf16_outruns_fma() ? cpu::CpuArithmetic::bf16_pairs
                                                                     : cpu::CpuArithmetic::bf16_rounded);
  }
  EXPECT_EQ(product(Precision::fp32), product(Precision::tf32));
  EXPECT_NE(product(Precision::fp32), product(Precision::bf16));
}

// A CpuFeatureOff switches its feature off for its lifetime, and AVX-512 BF16 and AMX with AVX-512F.
TEST(CpuFeatures, SwitchedOffForAScope) {
  const bool avx512f = cpu_has_avx512f(), bf16 = cpu_has_avx512_bf16();
  EXPECT_TRUE(avx512f || !bf16);
  {
    CpuFeatureOff off(CpuFeature::avx512_bf16);
    EXPECT_FALSE(cpu_has_avx512_bf16());
    EXPECT_EQ(cpu_has_avx512f(), avx512f);
  }
  EXPECT_EQ(cpu_has_avx512_bf16(), bf16);
  {
    CpuFeatureOff off(CpuFeature::avx512f);
    EXPECT_FALSE(cpu_has_avx512f());
    EXPECT_FALSE(cpu_has_avx512_bf16());
    EXPECT_FALSE(cpu_has_amx_bf16());
  }
  const bool amx = cpu_has_amx_bf16();
  {
    CpuFeatureOff off(CpuFeature::amx_bf16);
    EXPECT_FALSE(cpu_has_amx_bf16());
    EXPECT_EQ(cpu_has_avx512_bf16(), bf16);
  }
  EXPECT_EQ(cpu_has_avx512f(), avx512f);
  EXPECT_EQ(cpu_has_avx512_bf16(), bf16);
  EXPECT_EQ(cpu_has_amx_bf16(), amx);
}

}  // namespace
}  // namespace i2v
