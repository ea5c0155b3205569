// The tensor-core products (kernels/gemm_tensor_core.cu, kernels/conv_tensor_core.cu) on the GPU
// devices, in tf32 and in bf16, against double-precision references computed from the operands
// rounded as the kernels round them (kernels/tensor_core_fragments.h: to_tf32 is cvt.rna, to_bf16
// cvt.rn). With the rounding the same, what is left is fp32 summation in another order, so the
// tolerance is the fp32 GEMM tests' — tight enough that a wrong fragment index, a stage read
// before it landed, a skipped edge or a truncation where a rounding belongs all fail. Sizes cross the 128 × 128 tiles and the 32-deep
// stages; the weight gradient is split over its reduction; transposes, leading dimensions that
// forbid 16-byte copies, padding, strides and non-square kernels all appear.
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/conv_tensor_core.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "kernels/tensor_core_fragments.h"
#include "nn/layers/conv2d.h"
#include "tests/gemm_reference.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// A tensor-core operand as the kernels round it.
float round_operand(Precision precision, float x) {
  return precision == Precision::tf32 ? bits_float(to_tf32(x)) : bf16_value(to_bf16(x));
}

std::vector<float> rounded(Precision precision, std::vector<float> v) {
  for (float& x : v) x = round_operand(precision, x);
  return v;
}

}  // namespace

// How GoogleTest prints a Precision parameter.
inline void PrintTo(Precision precision, std::ostream* os) { *os << precision_name(precision); }

namespace {

// The devices where the .cu kernels run, each in both tensor-core precisions.
using DevicePrecision = std::tuple<Device, Precision>;

auto device_precisions() {
  return testing::Combine(testing::ValuesIn(test::gpu_devices()), testing::Values(Precision::tf32, Precision::bf16));
}

std::string device_precision_name(const testing::TestParamInfo<DevicePrecision>& info) {
  return std::get<0>(info.param).name() + "_" + precision_name(std::get<1>(info.param));
}


// ---- GEMM ------------------------------------------------------------------------------------

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k;
  int64_t pad;  // added to every leading dimension: 0 keeps 16-byte rows where sizes allow
  float alpha, beta;
};

void check_gemm(const GemmCase& g, Device device, Precision precision, std::mt19937_64& rng) {
  SCOPED_TRACE(fmt::format("{}{} m={} n={} k={} pad={} alpha={} beta={} on {} in {}", g.trans_a ? "T" : "N",
                           g.trans_b ? "T" : "N", g.m, g.n, g.k, g.pad, g.alpha, g.beta, device.name(),
                           precision_name(precision)));
  const int64_t a_rows = g.trans_a ? g.k : g.m, lda = (g.trans_a ? g.m : g.k) + g.pad;
  const int64_t b_rows = g.trans_b ? g.n : g.k, ldb = (g.trans_b ? g.k : g.n) + g.pad, ldc = g.n + g.pad;
  const std::vector<float> a = test::random_tensor({a_rows, lda}, rng).to_vector<float>();
  const std::vector<float> b = test::random_tensor({b_rows, ldb}, rng).to_vector<float>();
  std::vector<float> c0 = test::random_tensor({g.m, ldc}, rng).to_vector<float>();
  if (g.beta == 0.0f) std::fill(c0.begin(), c0.end(), std::numeric_limits<float>::quiet_NaN());
  const Tensor a_dev = Tensor::from_vector(a, {a_rows, lda}, device), b_dev = Tensor::from_vector(b, {b_rows, ldb}, device);
  Tensor c_dev = Tensor::from_vector(c0, {g.m, ldc}, device);
  I2V_DISPATCH_GPU(device, gemm_tensor_core, precision, g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha,
                   a_dev.data<float>(), lda, b_dev.data<float>(), ldb, g.beta, c_dev.data<float>(), ldc);
  test::expect_gemm_matches_reference({g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, g.beta, lda, ldb, ldc},
                                      rounded(precision, a), rounded(precision, b), c0, c_dev.to_vector<float>());
}

class TensorCoreGemm : public testing::TestWithParam<DevicePrecision> {};

TEST_P(TensorCoreGemm, MatchesTheProductOfRoundedOperands) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  auto rng = test::test_rng();
  // 130 × 129 × 67: two tiles each way and three stages, the last ones partial; 8 × 12 × 4 and
  // 1 × 1 × 1: one tile, mostly empty; pads 0 (16-byte copies) and 3 (4-byte copies).
  for (const auto& [m, n, k] : {std::array<int64_t, 3>{130, 129, 67}, {8, 12, 4}, {1, 1, 1}, {33, 200, 96}})
    for (int t = 0; t < 4; ++t)
      for (int64_t pad : {0, 3})
        check_gemm({t / 2 == 1, t % 2 == 1, m, n, k, pad, pad == 0 ? 1.0f : -0.75f, pad == 0 ? 0.0f : 0.5f},
                   device, precision, rng);
}

// gemm() takes the tensor-core kernel exactly when the products are in its precision.
TEST_P(TensorCoreGemm, DispatchedByThePrecision) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  auto rng = test::test_rng();
  const Tensor a = test::random_tensor({40, 50}, rng, device), b = test::random_tensor({50, 30}, rng, device);
  auto product = [&](Precision setting, bool direct) {
    PrecisionScope scope(setting);
    Tensor c = Tensor::empty({40, 30}, DType::f32, device);
    if (direct)
      I2V_DISPATCH_GPU(device, gemm_tensor_core, precision, false, false, 40, 30, 50, 1.0f, a.data<float>(), 50,
                       b.data<float>(), 30, 0.0f, c.data<float>(), 30);
    else
      I2V_DISPATCH(device, gemm, false, false, 40, 30, 50, 1.0f, a.data<float>(), 50, b.data<float>(), 30, 0.0f,
                   c.data<float>(), 30);
    return c.to_vector<float>();
  };
  const Precision other = precision == Precision::tf32 ? Precision::bf16 : Precision::tf32;
  EXPECT_EQ(product(precision, false), product(precision, true));
  EXPECT_NE(product(Precision::fp32, false), product(precision, true)) << "fp32 rounds nothing";
  EXPECT_NE(product(other, false), product(precision, true)) << "tf32 and bf16 round differently";
}

TEST(TensorCoreGemmPrecision, RefusesFp32) {
  for (const Device device : test::gpu_devices()) {
    float a = 1, b = 1, c = 0;
    test::expect_error_containing(
        [&] { I2V_DISPATCH_GPU(device, gemm_tensor_core, Precision::fp32, false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1,
                               0.0f, &c, 1); },
        "tensor cores compute in tf32 or bf16, not fp32");
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, TensorCoreGemm, device_precisions(), device_precision_name);

// ---- convolutions ----------------------------------------------------------------------------

struct ConvCase {
  int64_t batch, in, out, height, width;
  Extent2d kernel, stride, padding;
};

std::string case_name(const ConvCase& c) {
  return fmt::format("batch {} {}x{} ", c.batch, c.height, c.width) +
         Conv2d(c.in, c.out, c.kernel, c.stride, c.padding).describe();
}

// 400 output pixels (a multiple of 4: dy is copied 16 bytes at a time) and 49 (4 bytes), output
// channels over a 128-row tile, rows (in · kh · kw) over a 32-deep stage, 1×1, strided,
// non-square and large-padding kernels, reductions long enough to be split (batch · pixels
// of 1,600 and 2,304 are 50 and 72 stages), and the deep layers of a small network: 4×4, 2×2 and
// 1×1 images under a 3×3 kernel, where most of each window is padding.
const std::vector<ConvCase> kConvCases = {
    {4, 5, 130, 20, 20, 3, 1, 1},  {2, 3, 7, 7, 7, 3, 1, 1},          {3, 6, 9, 7, 9, {1, 3}, 1, {0, 1}},
    {2, 4, 5, 9, 8, 4, 1, 2},      {3, 8, 6, 6, 5, 1, 1, 0},          {2, 3, 4, 11, 9, 3, 2, 1},
    {4, 2, 3, 24, 24, 3, 1, 0},    {1, 33, 40, 5, 6, {2, 3}, {2, 1}, {1, 0}}, {2, 32, 64, 4, 4, 3, 1, 1},
    {2, 8, 16, 2, 2, 3, 1, 1},     {2, 8, 16, 1, 1, 3, 1, 1},         {2, 16, 5, 1, 1, 1, 1, 0},
    {2, 256, 64, 2, 2, 3, 1, 1},
};

struct ConvResults {
  std::vector<float> y, grad_weight, grad_images;
};

// Conv2d in double on the cpu: values, or with `absolute`, the sums of magnitudes of the terms
// of each output (the same sums over |operands|).
ConvResults reference(Precision precision, const ConvCase& c, const std::vector<float>& w,
                      const std::vector<float>& bias, const std::vector<float>& x, const std::vector<float>& dy,
                      bool absolute) {
  auto as_double = [&](const std::vector<float>& v, const Shape& shape) {
    std::vector<double> d(v.begin(), v.end());
    for (double& e : d) {
      e = round_operand(precision, float(e));
      if (absolute) e = std::fabs(e);
    }
    return Tensor::from_vector(d, shape);
  };
  Conv2d conv(c.in, c.out, c.kernel, c.stride, c.padding);
  conv.to(Device::cpu(), DType::f64);
  conv.weight().value = as_double(w, conv.weight().value.shape());
  std::vector<double> b(bias.begin(), bias.end());
  if (absolute)
    for (double& e : b) e = std::fabs(e);
  conv.bias().value = Tensor::from_vector(b, {c.out});
  conv.zero_grad();
  const Tensor xd = as_double(x, {c.batch, c.in, c.height, c.width});
  const Tensor y = conv.forward({xd}, Mode::train);
  const Tensor dyd = as_double(dy, y.shape());
  const std::vector<Tensor> dx = conv.backward(dyd, {true});
  auto floats = [](const Tensor& t) {
    const std::vector<double> d = t.to_vector<double>();
    return std::vector<float>(d.begin(), d.end());
  };
  return {floats(y), floats(conv.weight().grad), floats(dx[0])};
}

void expect_near_all(const std::string& name, const std::vector<float>& got, const std::vector<float>& expected,
                     const std::vector<float>& magnitude, int64_t terms) {
  ASSERT_EQ(got.size(), expected.size()) << name;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - expected[i]) <= test::fp32_sum_tolerance(terms, magnitude[i])) && reported++ < 5)
      ADD_FAILURE() << name << "[" << i << "] = " << got[i] << ", expected " << expected[i];
}

class TensorCoreConv : public testing::TestWithParam<DevicePrecision> {};

TEST_P(TensorCoreConv, ProductsMatchTheConvolutionOfRoundedOperands) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  auto rng = test::test_rng();
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(case_name(c) + " on " + device.name() + " in " + precision_name(precision));
    Conv2d shape_of(c.in, c.out, c.kernel, c.stride, c.padding);
    const ConvGeometry g{c.in, c.height, c.width, c.kernel.h, c.kernel.w, c.stride.h, c.stride.w, c.padding.h,
                         c.padding.w};
    const Shape y_shape = shape_of.output_shape({{c.batch, c.in, c.height, c.width}});
    const std::vector<float> w = test::random_tensor(shape_of.weight().value.shape(), rng).to_vector<float>();
    const std::vector<float> bias = test::random_tensor({c.out}, rng).to_vector<float>();
    const std::vector<float> x = test::random_tensor({c.batch, c.in, c.height, c.width}, rng).to_vector<float>();
    const std::vector<float> dy = test::random_tensor(y_shape, rng).to_vector<float>();
    const std::vector<float> grad0 = test::random_tensor(shape_of.weight().value.shape(), rng).to_vector<float>();
    const ConvResults expected = reference(precision, c, w, bias, x, dy, false);
    const ConvResults magnitude = reference(precision, c, w, bias, x, dy, true);

    auto on_device = [&](const std::vector<float>& v) { return Tensor::from_vector(v, {int64_t(v.size())}, device); };
    const Tensor w_dev = on_device(w), bias_dev = on_device(bias), x_dev = on_device(x), dy_dev = on_device(dy);
    Tensor y = Tensor::empty({shape_numel(y_shape)}, DType::f32, device);
    I2V_DISPATCH_GPU(device, conv_forward_tensor_core, precision, w_dev.data<float>(), bias_dev.data<float>(), c.out,
                     x_dev.data<float>(), c.batch, g, y.data<float>());
    expect_near_all("y", y.to_vector<float>(), expected.y, magnitude.y, g.col_rows());
    // Stored as bf16 (for a layer passing bf16): the same sums, rounded once, bit for bit.
    Tensor y_bf16 = Tensor::empty(y.shape(), DType::bf16, device);
    I2V_DISPATCH_GPU(device, conv_forward_tensor_core, precision, w_dev.data<float>(), bias_dev.data<float>(), c.out,
                     x_dev.data<float>(), c.batch, g, y_bf16.data<bfloat16>());
    EXPECT_EQ(y_bf16.cast(DType::f32).to_vector<float>(), test::rounded_bf16(y.to_vector<float>()));

    // The weight gradient accumulates; twice from the same start gives the same bits.
    std::vector<float> grad_expected = expected.grad_weight, grad_magnitude = magnitude.grad_weight;
    for (size_t i = 0; i < grad0.size(); ++i) {
      grad_expected[i] += grad0[i];
      grad_magnitude[i] += std::fabs(grad0[i]);
    }
    std::vector<std::vector<float>> runs;
    for (int run = 0; run < 2; ++run) {
      Tensor grad = on_device(grad0);
      I2V_DISPATCH_GPU(device, conv_weight_grad_tensor_core, precision, dy_dev.data<float>(), c.out,
                       x_dev.data<float>(), c.batch, g, grad.data<float>());
      runs.push_back(grad.to_vector<float>());
    }
    expect_near_all("grad_weight", runs[0], grad_expected, grad_magnitude, c.batch * g.out_pixels());
    EXPECT_EQ(runs[0], runs[1]) << "the split reduction is summed in a fixed order";

    if (conv_input_grad_tensor_core_applies(g)) {
      Tensor grad_images = Tensor::empty({int64_t(x.size())}, DType::f32, device);
      I2V_DISPATCH_GPU(device, conv_input_grad_tensor_core, precision, w_dev.data<float>(), c.out,
                       dy_dev.data<float>(), c.batch, g, grad_images.data<float>());
      expect_near_all("grad_images", grad_images.to_vector<float>(), expected.grad_images, magnitude.grad_images,
                      c.out * g.kernel_h * g.kernel_w);
      Tensor grad_images_bf16 = Tensor::empty(grad_images.shape(), DType::bf16, device);
      I2V_DISPATCH_GPU(device, conv_input_grad_tensor_core, precision, w_dev.data<float>(), c.out,
                       dy_dev.data<float>(), c.batch, g, grad_images_bf16.data<bfloat16>());
      EXPECT_EQ(grad_images_bf16.cast(DType::f32).to_vector<float>(),
                test::rounded_bf16(grad_images.to_vector<float>()));
    }
  }
}

// Conv2d in tf32 or bf16 on a GPU device against Conv2d in fp32 on the cpu: the tensor-core path
// with its fused bias, and for strided geometries the input gradient through im2col, a
// tensor-core GEMM and col2im. TF32 rounds each operand to 11 significant bits (relative error
// ≤ 2⁻¹¹), BF16 to 8 (≤ 2⁻⁸), so a sum of n products of unit-sized values differs from fp32 by
// ~2⁻¹¹ · √n or ~2⁻⁸ · √n (rms); the tolerance is a few times that, and an indexing mistake,
// O(√n), stays far above it.
TEST_P(TensorCoreConv, Conv2dAgreesWithCpuFp32) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  PrecisionScope scope(precision);
  const double per_term = precision == Precision::tf32 ? 3e-3 : 2.4e-2;
  auto rng = test::test_rng();
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(case_name(c));
    const ConvGeometry g{c.in, c.height, c.width, c.kernel.h, c.kernel.w, c.stride.h, c.stride.w, c.padding.h,
                         c.padding.w};
    auto tolerance = [&](int64_t terms) { return test::Tolerance{0.0, per_term * std::sqrt(double(terms))}; };
    const test::Tolerances tolerances = {{"output", tolerance(g.col_rows())},
                                         {"grad_input0", tolerance(c.out * g.kernel_h * g.kernel_w)},
                                         {"grad_weight", tolerance(c.batch * g.out_pixels())},
                                         {"grad_bias", {1e-5, 5e-5}}};
    test::check_devices_agree([&] { return std::make_unique<Conv2d>(c.in, c.out, c.kernel, c.stride, c.padding); },
                              {test::random_tensor({c.batch, c.in, c.height, c.width}, rng)}, device, rng,
                              tolerances);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, TensorCoreConv, device_precisions(), device_precision_name);

}  // namespace
}  // namespace i2v
