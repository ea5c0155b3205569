// Conv2d: a direct convolution as the reference for the forward pass, gradients checked in double
// against central differences, frozen weights and unneeded input gradients cost nothing, and
// cpu and the GPU kernels agree, over shapes with batch 1, odd and non-square images, strides
// above 1, padding, 1×1 / 2×2 / 3×3 / 4×4 and non-square kernels, and image groups split across
// several GEMMs (a small workspace budget).
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/conv2d.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

struct ConvCase {
  int64_t batch, in, out, height, width;
  Extent2d kernel, stride, padding;
  int64_t budget;  // workspace elements per GEMM group (small ones split the batch)
};

std::string case_name(const ConvCase& c) {
  return fmt::format("batch {} {}x{} ", c.batch, c.height, c.width) +
         Conv2d(c.in, c.out, c.kernel, c.stride, c.padding).describe() + fmt::format(" budget {}", c.budget);
}

std::unique_ptr<Conv2d> make_conv(const ConvCase& c) {
  auto conv = std::make_unique<Conv2d>(c.in, c.out, c.kernel, c.stride, c.padding);
  conv->set_workspace_budget(c.budget);
  return conv;
}

constexpr int64_t kWholeBatch = int64_t(1) << 30;

const std::vector<ConvCase> kCases = {
    {1, 1, 1, 5, 5, 3, 1, 0, kWholeBatch},
    {2, 3, 4, 7, 6, 3, 1, 1, kWholeBatch},
    {1, 2, 3, 8, 9, 2, 2, 0, kWholeBatch},
    {3, 3, 2, 9, 7, 4, 2, 1, kWholeBatch},
    {2, 2, 3, 7, 7, 3, 3, 2, kWholeBatch},
    {3, 4, 5, 5, 4, 1, 1, 0, kWholeBatch},         // 1×1: im2col of a group of images
    {3, 4, 5, 5, 4, 1, 1, 0, 1},                   // 1×1, one image per group: no im2col
    {2, 3, 4, 6, 5, 1, 2, 0, kWholeBatch},         // 1×1 with stride 2
    {2, 3, 2, 6, 7, {1, 3}, {2, 1}, {0, 1}, kWholeBatch},
    {5, 2, 3, 6, 5, 3, 1, 1, 2 * 18 * 30},         // 18 rows × 30 pixels: groups of 2, 2 and 1 images
    {5, 2, 3, 6, 5, 3, 1, 1, 2 * 3 * 30},          // the same, by 3 outputs × 30 pixels, where no col is needed
};

TEST(Conv2dLayer, ForwardMatchesDirectConvolution) {
  auto rng = test::test_rng();
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(case_name(c));
    auto conv = make_conv(c);
    test::randomize_parameters(*conv, rng);
    const Tensor x = test::random_tensor({c.batch, c.in, c.height, c.width}, rng);
    const Tensor y = conv->forward({x}, Mode::eval);
    const Tensor& w = conv->weight().value;
    const Tensor& b = conv->bias().value;
    ASSERT_EQ(y.shape(), conv->output_shape({x.shape()}));
    int failures = 0;
    for (int64_t n = 0; n < y.size(0); ++n)
      for (int64_t o = 0; o < y.size(1); ++o)
        for (int64_t oh = 0; oh < y.size(2); ++oh)
          for (int64_t ow = 0; ow < y.size(3); ++ow) {
            double sum = b.item<float>({o}), magnitude = std::fabs(sum);
            for (int64_t i = 0; i < c.in; ++i)
              for (int64_t ki = 0; ki < c.kernel.h; ++ki)
                for (int64_t kj = 0; kj < c.kernel.w; ++kj) {
                  const int64_t ih = oh * c.stride.h - c.padding.h + ki, iw = ow * c.stride.w - c.padding.w + kj;
                  if (ih < 0 || ih >= c.height || iw < 0 || iw >= c.width) continue;
                  const double term = double(w.item<float>({o, i, ki, kj})) * x.item<float>({n, i, ih, iw});
                  sum += term;
                  magnitude += std::fabs(term);
                }
            const double got = y.item<float>({n, o, oh, ow});
            if (!(std::fabs(got - sum) <= 1e-6 * (magnitude + 1)) && failures++ < 5)
              ADD_FAILURE() << "y[" << n << "][" << o << "][" << oh << "][" << ow << "] = " << got << ", expected "
                            << sum;
          }
  }
}

TEST(Conv2dLayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(case_name(c));
    auto conv = make_conv(c);
    test::check_gradients(*conv, {test::random_tensor({c.batch, c.in, c.height, c.width}, rng)}, rng);
  }
}

TEST(Conv2dLayer, FrozenWeightsGetNoGradient) {
  auto rng = test::test_rng();
  const ConvCase c = kCases[1];
  auto conv = make_conv(c);
  conv->weight().requires_grad = false;
  // The input and bias gradients are still right ...
  test::check_gradients(*conv, {test::random_tensor({c.batch, c.in, c.height, c.width}, rng)}, rng);
  // ... and the weight's gradient is never touched.
  conv->weight().grad.fill_(7.0);
  conv->forward({test::random_tensor({c.batch, c.in, c.height, c.width}, rng).cast(DType::f64)}, Mode::train);
  conv->backward(test::random_tensor({c.batch, c.out, c.height, c.width}, rng).cast(DType::f64), {true});
  for (double g : conv->weight().grad.to_vector<double>()) ASSERT_EQ(g, 7.0);
}

TEST(Conv2dLayer, NoInputGradientWhenNotNeeded) {
  auto rng = test::test_rng();
  const ConvCase c = kCases[1];
  auto conv = make_conv(c);
  const Tensor x = test::random_tensor({c.batch, c.in, c.height, c.width}, rng);
  conv->forward({x}, Mode::train);
  const Tensor dy = test::random_tensor({c.batch, c.out, c.height, c.width}, rng);
  const std::vector<Tensor> grads = conv->backward(dy, {false});
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_FALSE(grads[0].defined());
  // The parameters still get theirs.
  double sum = 0;
  for (float g : conv->weight().grad.to_vector<float>()) sum += std::fabs(g);
  EXPECT_GT(sum, 0);
}

TEST(Conv2dLayer, WithoutBias) {
  auto rng = test::test_rng();
  Conv2d conv(3, 4, 3, 2, 1, /*bias=*/false);
  EXPECT_EQ(conv.parameters().size(), 1u);
  EXPECT_EQ(conv.describe(), "conv2d 3->4 k3 s2 p1 no-bias");
  test::check_gradients(conv, {test::random_tensor({2, 3, 7, 8}, rng)}, rng);
}

TEST(Conv2dLayer, DescribesItselfAndCountsFlops) {
  Conv2d conv(3, 64, 3, 1, 1);
  EXPECT_EQ(conv.describe(), "conv2d 3->64 k3 s1 p1");
  EXPECT_EQ(conv.output_shape({{8, 3, 224, 224}}), (Shape{8, 64, 224, 224}));
  EXPECT_EQ(conv.forward_flops({{8, 3, 224, 224}}), 8 * 64 * 224 * 224 * (2 * 27 + 1));
  EXPECT_EQ(Conv2d(2, 3, {1, 3}, {2, 1}, {0, 1}).describe(), "conv2d 2->3 k1x3 s2x1 p0x1");
}

TEST(Conv2dLayer, RejectsBadShapesAndArguments) {
  Conv2d conv(3, 4, 3);
  EXPECT_THROW(conv.output_shape({{2, 5, 8, 8}}), Error);   // wrong channels
  EXPECT_THROW(conv.output_shape({{2, 3, 8}}), Error);      // not NCHW
  EXPECT_THROW(conv.output_shape({{2, 3, 2, 8}}), Error);   // smaller than the kernel
  EXPECT_THROW(conv.backward(Tensor::zeros({2, 4, 6, 6}), {true}), Error);  // no forward
  EXPECT_THROW(Conv2d(3, 4, 0), Error);
  EXPECT_THROW(Conv2d(3, 4, 3, 0), Error);
  conv.forward({Tensor::zeros({2, 3, 8, 8})}, Mode::train);
  EXPECT_THROW(conv.backward(Tensor::zeros({2, 4, 5, 6}), {true}), Error);  // gradient of the wrong shape
}

// cpu and GPU sum the same products in a different order (GEMM tiles and blocks). Products are
// N(0,1) weights × U(-1,1) inputs or N(0,1) gradients; an output sums in·kh·kw ≤ 63 of them, a
// weight or bias gradient batch·pixels ≤ 144, an input gradient out·kh·kw ≤ 630. Float rounding
// of such sums differs by ~1e-6 absolute (4e-6 seen for the input gradient); an indexing
// mistake by O(1). Elementwise-exact tensors would get {0, 0}; none here is.
const test::Tolerances kConvTolerances = {
    {"output", {1e-5, 1e-5}},
    {"grad_input0", {1e-5, 5e-5}},
    {"grad_weight", {1e-5, 5e-5}},
    {"grad_bias", {1e-5, 5e-5}},
};

class Conv2dOnDevices : public testing::TestWithParam<Device> {};

TEST_P(Conv2dOnDevices, AgreesWithCpu) {
  auto rng = test::test_rng();
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(case_name(c));
    test::check_devices_agree([&] { return make_conv(c); },
                              {test::random_tensor({c.batch, c.in, c.height, c.width}, rng)}, GetParam(), rng,
                              kConvTolerances);
  }
}

// 65 and 70 output channels and 3·3·7 = 63 rows cross the GPU GEMM's 64-wide tiles.
TEST_P(Conv2dOnDevices, AgreesWithCpuAcrossGemmTiles) {
  auto rng = test::test_rng();
  for (const ConvCase& c :
       {ConvCase{2, 7, 65, 9, 8, 3, 1, 1, kWholeBatch}, ConvCase{1, 7, 70, 11, 6, 3, 2, 0, kWholeBatch}}) {
    SCOPED_TRACE(case_name(c));
    test::check_devices_agree([&] { return make_conv(c); },
                              {test::random_tensor({c.batch, c.in, c.height, c.width}, rng)}, GetParam(), rng,
                              kConvTolerances);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Conv2dOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
