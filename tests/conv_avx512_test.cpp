// The CPU's fused AVX-512 convolution products (kernels/conv_avx512.h) against their
// definition: Eigen's GEMM over the col matrix that im2col (tested in im2col_test.cpp) writes.
// Geometries with strides, padding, non-square kernels, pointwise ones, groups of several
// images, and one that crosses the AVX-512 kernel's row (256), depth (256) and column (4608)
// blocks. (Conv2d's paths on every device: conv2d_layer_test.cpp.)
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/conv_avx512.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

struct ConvGemmCase {
  ConvGeometry g;
  int64_t count, out_channels;
};

// Strides 1 to 3, padding from 0 (a smaller output) to kernel − 1 (a larger one).
const std::vector<ConvGemmCase> kSmallCases = {
    {{3, 7, 6, 3, 3, 1, 1, 1, 1}, 1, 5},  {{2, 9, 8, 4, 4, 2, 2, 1, 1}, 3, 4}, {{4, 5, 6, 1, 1, 1, 1, 0, 0}, 1, 6},
    {{4, 5, 6, 1, 1, 1, 1, 0, 0}, 2, 3},  {{3, 6, 9, 1, 3, 2, 1, 0, 1}, 2, 7}, {{2, 7, 7, 3, 3, 3, 3, 2, 2}, 1, 9},
    {{3, 8, 7, 3, 3, 1, 1, 0, 0}, 2, 4},  {{2, 6, 5, 2, 2, 1, 1, 1, 1}, 3, 5}, {{3, 6, 9, 1, 3, 1, 1, 0, 1}, 2, 6},
    {{2, 7, 7, 3, 3, 1, 1, 2, 2}, 2, 3},  {{2, 9, 6, 4, 4, 1, 1, 0, 0}, 1, 5},
};
// 29·3·3 = 261 rows, 3·41·39 = 4797 columns, 260 output channels: several blocks of each.
const ConvGemmCase kBlockCrossingCase = {{29, 41, 39, 3, 3, 1, 1, 1, 1}, 3, 260};

struct Operands {
  std::vector<float> weight, images, dy, grad_weight0;  // grad_weight0: what the gradient accumulates onto
};

Operands random_operands(const ConvGemmCase& c, std::mt19937_64& rng) {
  const int64_t rows = c.g.col_rows(), columns = c.count * c.g.out_pixels();
  return {test::random_tensor({c.out_channels, rows}, rng).to_vector<float>(),
          test::random_tensor({c.count, c.g.image_size()}, rng).to_vector<float>(),
          test::random_tensor({c.out_channels, columns}, rng).to_vector<float>(),
          test::random_tensor({c.out_channels, rows}, rng).to_vector<float>()};
}

// What each product must give, from im2col and Eigen's GEMM on the cpu.
struct Expected {
  std::vector<float> y, grad_weight;
};

Expected expected_products(const ConvGemmCase& c, const Operands& o) {
  const int64_t rows = c.g.col_rows(), columns = c.count * c.g.out_pixels();
  std::vector<float> col(size_t(rows * columns));
  cpu::im2col(o.images.data(), c.count, c.g, col.data());
  Expected e{std::vector<float>(size_t(c.out_channels * columns)), o.grad_weight0};
  cpu::gemm_eigen<float>(false, false, c.out_channels, columns, rows, 1.0f, o.weight.data(), rows, col.data(), columns,
                         0.0f, e.y.data(), columns);
  cpu::gemm_eigen<float>(false, true, c.out_channels, rows, columns, 1.0f, o.dy.data(), columns, col.data(), columns,
                         1.0f, e.grad_weight.data(), rows);
  return e;
}

// Sums of up to a few thousand products in another order: float rounding, relative to the sum
// of the magnitudes (bounded here by the values' scale, 1, times the count of terms).
void expect_close(const std::string& name, const std::vector<float>& got, const std::vector<float>& expected,
                  int64_t terms) {
  ASSERT_EQ(got.size(), expected.size()) << name;
  const double allowed = 2e-7 * double(terms) + 1e-6;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - expected[i]) <= allowed) && reported++ < 5)
      ADD_FAILURE() << name << "[" << i << "] = " << got[i] << ", expected " << expected[i];
}

std::string case_name(const ConvGemmCase& c) {
  return fmt::format("c{} {}x{} k{}x{} s{}x{} p{}x{} images {} out {}", c.g.channels, c.g.height, c.g.width,
                     c.g.kernel_h, c.g.kernel_w, c.g.stride_h, c.g.stride_w, c.g.pad_h, c.g.pad_w, c.count,
                     c.out_channels);
}

TEST(ConvAvx512, FusedProductsMatchIm2colAndGemm) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << "this CPU has no AVX-512";
  auto rng = test::test_rng();
  std::vector<ConvGemmCase> cases = kSmallCases;
  cases.push_back(kBlockCrossingCase);
  for (const ConvGemmCase& c : cases) {
    SCOPED_TRACE(case_name(c));
    ASSERT_TRUE(cpu::conv_avx512_applies(c.count, c.g));
    const Operands o = random_operands(c, rng);
    const Expected e = expected_products(c, o);
    std::vector<float> y(e.y.size(), std::nanf("")), grad_weight = o.grad_weight0;
    cpu::conv_forward_avx512(o.weight.data(), c.out_channels, o.images.data(), c.count, c.g, y.data());
    cpu::conv_weight_grad_avx512(o.dy.data(), c.out_channels, o.images.data(), c.count, c.g, grad_weight.data());
    expect_close("y", y, e.y, c.g.col_rows());
    expect_close("grad_weight", grad_weight, e.grad_weight, c.count * c.g.out_pixels());
  }
}

}  // namespace
}  // namespace i2v
