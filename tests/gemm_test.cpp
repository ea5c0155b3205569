// GEMM on every device and in every CPU implementation, against a double-precision loop:
// every transpose combination, sizes that are not multiples of any tile or block (the AVX-512
// kernel's 8×48 micro-tiles and 256/256/4608 blocks, the CUDA kernels' 64×64×16 and 128×128×8
// tiles), row strides larger than the matrix, alpha and beta, and beta = 0 over a C full of NaN
// (which must not be read).
#include <array>
#include <cmath>
#include <functional>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "tests/gemm_reference.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha, beta;
};

std::string case_name(const GemmCase& g) {
  return fmt::format("{}{} m={} n={} k={} alpha={} beta={}", g.trans_a ? "T" : "N", g.trans_b ? "T" : "N", g.m, g.n,
                     g.k, g.alpha, g.beta);
}

using GemmFn = std::function<void(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                  int64_t, float, float*, int64_t)>;

// Runs `gemm` on `device` for `g` with padded row strides and compares C with a double loop.
// Each element may differ by a few float roundings of the sum of |terms|.
void check_gemm(const GemmCase& g, Device device, const GemmFn& gemm, std::mt19937_64& rng) {
  SCOPED_TRACE(case_name(g) + " on " + device.name());
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = g.n + 5;
  const std::vector<float> a = test::random_tensor({a_rows, lda}, rng).to_vector<float>();
  const std::vector<float> b = test::random_tensor({b_rows, ldb}, rng).to_vector<float>();
  std::vector<float> c0 = test::random_tensor({g.m, ldc}, rng).to_vector<float>();
  if (g.beta == 0.0f) std::fill(c0.begin(), c0.end(), std::numeric_limits<float>::quiet_NaN());

  const Tensor a_dev = Tensor::from_vector(a, {a_rows, lda}, device);
  const Tensor b_dev = Tensor::from_vector(b, {b_rows, ldb}, device);
  Tensor c_dev = Tensor::from_vector(c0, {g.m, ldc}, device);
  gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, a_dev.data<float>(), lda, b_dev.data<float>(), ldb, g.beta,
       c_dev.data<float>(), ldc);
  const std::vector<float> c = c_dev.to_vector<float>();

  test::expect_gemm_matches_reference({g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, g.beta, lda, ldb, ldc}, a, b, c0, c);
}

// Shapes that cross every tile and block edge; k > 256 and m > 256 take several depth and row
// blocks of the AVX-512 kernel, n > 4608 several column blocks.
std::vector<GemmCase> cases_for(const std::vector<std::array<int64_t, 3>>& shapes) {
  std::vector<GemmCase> cases;
  for (const auto& [m, n, k] : shapes)
    for (int t = 0; t < 4; ++t)
      for (const auto& [alpha, beta] : {std::pair{1.0f, 0.0f}, std::pair{-0.75f, 0.5f}})
        cases.push_back({(t & 1) != 0, (t & 2) != 0, m, n, k, alpha, beta});
  return cases;
}

const std::vector<std::array<int64_t, 3>> kCpuShapes = {
    {1, 1, 1}, {7, 5, 3}, {9, 47, 17}, {13, 49, 33}, {8, 48, 16}, {31, 97, 300}, {300, 67, 45}, {3, 4700, 5}};
// The emulator costs ~50 ns per CUDA thread: fewer, smaller shapes, still crossing every tile edge.
const std::vector<std::array<int64_t, 3>> kGpuShapes = {{1, 1, 1}, {7, 5, 3}, {65, 67, 33}, {129, 130, 17}};

TEST(GemmCpu, AVX512KernelMatchesReference) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << "this CPU has no AVX-512";
  auto rng = test::test_rng();
  for (const GemmCase& g : cases_for(kCpuShapes)) check_gemm(g, Device::cpu(), cpu::gemm_avx512, rng);
}

// A C of over 8 MiB takes the AVX-512 kernel's 512-deep blocks; k = 700 needs two of them.
// Too large for the full double loop: 400 sampled elements are checked.
TEST(GemmCpu, AVX512KernelWithDeepBlocksMatchesReference) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << "this CPU has no AVX-512";
  auto rng = test::test_rng();
  const int64_t m = 1029, n = 2050, k = 700;
  for (const auto& [trans_a, trans_b] : {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}}) {
    SCOPED_TRACE(fmt::format("trans_a {} trans_b {}", trans_a, trans_b));
    const std::vector<float> a = test::random_tensor({m * k}, rng).to_vector<float>();
    const std::vector<float> b = test::random_tensor({k * n}, rng).to_vector<float>();
    std::vector<float> c = test::random_tensor({m * n}, rng).to_vector<float>();
    const std::vector<float> c0 = c;
    const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
    cpu::gemm_avx512(trans_a, trans_b, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), n);
    test::expect_gemm_samples_match_reference({trans_a, trans_b, m, n, k, 0.5f, 2.0f, lda, ldb, n}, a, b, c0, c, 400,
                                              rng());
  }
}

TEST(GemmCpu, EigenKernelMatchesReference) {
  auto rng = test::test_rng();
  for (const GemmCase& g : cases_for(kCpuShapes)) check_gemm(g, Device::cpu(), cpu::gemm_eigen<float>, rng);
}

TEST(GemmCpu, ZeroDepthAndZeroAlphaScaleC) {
  auto rng = test::test_rng();
  std::vector<GemmFn> kernels = {cpu::gemm_eigen<float>};
  if (cpu_has_avx512f()) kernels.push_back(cpu::gemm_avx512);
  for (const GemmFn& gemm : kernels) {
    check_gemm({false, false, 5, 7, 0, 1.0f, 0.0f}, Device::cpu(), gemm, rng);
    check_gemm({false, true, 5, 7, 0, 1.0f, 0.25f}, Device::cpu(), gemm, rng);
    check_gemm({true, false, 5, 7, 3, 0.0f, 0.25f}, Device::cpu(), gemm, rng);
  }
}

TEST(GemmCpu, DoubleMatchesReference) {
  auto rng = test::test_rng();
  const int64_t m = 13, n = 11, k = 9;
  const Tensor a = test::random_tensor({k, m}, rng).cast(DType::f64);
  const Tensor b = test::random_tensor({n, k}, rng).cast(DType::f64);
  Tensor c = Tensor::full({m, n}, std::nan(""), DType::f64);
  cpu::gemm(true, true, m, n, k, 2.0, a.data<double>(), m, b.data<double>(), k, 0.0, c.data<double>(), n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double expected = 0;
      for (int64_t p = 0; p < k; ++p) expected += 2.0 * a.item<double>({p, i}) * b.item<double>({j, p});
      EXPECT_NEAR(c.item<double>({i, j}), expected, 1e-12);
    }
}

class GemmOnDevices : public testing::TestWithParam<Device> {};

TEST_P(GemmOnDevices, DispatchedGemmMatchesReference) {
  auto rng = test::test_rng();
  const bool cpu = GetParam().is_cpu();
  const GemmFn gemm = [&](auto... args) { I2V_DISPATCH(GetParam(), gemm, args...); };
  for (const GemmCase& g : cases_for(cpu ? kCpuShapes : kGpuShapes)) check_gemm(g, GetParam(), gemm, rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, GemmOnDevices, testing::ValuesIn(test::all_devices()), test::device_name);

class GemmGpuVariants : public testing::TestWithParam<Device> {};

TEST_P(GemmGpuVariants, EachTileVariantMatchesReference) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  const GemmFn tile_64 = [&](auto... args) {
    if (device == Device::sim()) sim::gemm_64x64(args...); else I2V_CUDA_CALL(gemm_64x64, args...);
  };
  const GemmFn tile_128 = [&](auto... args) {
    if (device == Device::sim()) sim::gemm_128x128(args...); else I2V_CUDA_CALL(gemm_128x128, args...);
  };
  for (const GemmCase& g : cases_for(kGpuShapes)) {
    check_gemm(g, device, tile_64, rng);
    check_gemm(g, device, tile_128, rng);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, GemmGpuVariants, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
