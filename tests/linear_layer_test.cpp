// Linear: the forward pass against a direct sum, gradients checked in double against central
// differences, frozen weights, inputs of any rank, and cpu and the GPU kernels agreeing.
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/linear.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

TEST(LinearLayer, ForwardMatchesDirectSum) {
  auto rng = test::test_rng();
  Linear linear(7, 5);
  test::randomize_parameters(linear, rng);
  const Tensor x = test::random_tensor({3, 7}, rng);
  const Tensor y = linear.forward({x}, Mode::eval);
  ASSERT_EQ(y.shape(), (Shape{3, 5}));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t o = 0; o < 5; ++o) {
      double sum = linear.bias().value.item<float>({o});
      for (int64_t i = 0; i < 7; ++i) sum += double(x.item<float>({r, i})) * linear.weight().value.item<float>({o, i});
      EXPECT_NEAR(y.item<float>({r, o}), sum, 1e-5);
    }
}

TEST(LinearLayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : {Shape{1, 9}, Shape{4, 9}, Shape{2, 3, 9}}) {
    Linear linear(9, 6);
    test::check_gradients(linear, {test::random_tensor(shape, rng)}, rng);
  }
  Linear without_bias(9, 4, /*bias=*/false);
  test::check_gradients(without_bias, {test::random_tensor({3, 9}, rng)}, rng);
}

TEST(LinearLayer, FrozenWeightsGetNoGradient) {
  auto rng = test::test_rng();
  Linear linear(5, 3);
  linear.weight().requires_grad = false;
  test::check_gradients(linear, {test::random_tensor({4, 5}, rng)}, rng);
  linear.weight().grad.fill_(7.0);
  linear.forward({test::random_tensor({4, 5}, rng).cast(DType::f64)}, Mode::train);
  EXPECT_FALSE(linear.backward(test::random_tensor({4, 3}, rng).cast(DType::f64), {false})[0].defined());
  for (double g : linear.weight().grad.to_vector<double>()) ASSERT_EQ(g, 7.0);
}

TEST(LinearLayer, DescribesItselfAndRejectsBadShapes) {
  Linear linear(4096, 1539);
  EXPECT_EQ(linear.describe(), "linear 4096->1539");
  EXPECT_EQ(linear.forward_flops({{8, 4096}}), 8 * 1539 * (2 * 4096 + 1));
  EXPECT_EQ(Linear(8, 16, false).describe(), "linear 8->16 no-bias");
  EXPECT_THROW(linear.output_shape({{8, 4095}}), Error);
  EXPECT_THROW(linear.output_shape({Shape{}}), Error);
  EXPECT_THROW(Linear(0, 3), Error);
}

// A row of y sums `in` products, a weight-gradient entry `rows`: float sums in a different
// order (GEMM tiles) differ by ~1e-6 at these sizes.
const test::Tolerances kLinearTolerances = {
    {"output", {1e-5, 1e-5}},
    {"grad_input0", {1e-5, 1e-5}},
    {"grad_weight", {1e-5, 1e-5}},
    {"grad_bias", {1e-5, 1e-5}},
};

class LinearOnDevices : public testing::TestWithParam<Device> {};

// 70 × 67 weights cross the GPU GEMM's 64-wide tiles.
TEST_P(LinearOnDevices, AgreesWithCpu) {
  auto rng = test::test_rng();
  for (const auto& [shape, out] : {std::pair{Shape{1, 13}, int64_t(5)}, std::pair{Shape{5, 67}, int64_t(70)},
                                   std::pair{Shape{2, 3, 11}, int64_t(4)}}) {
    test::check_devices_agree([&, in = shape.back(), out = out] { return std::make_unique<Linear>(in, out); },
                              {test::random_tensor(shape, rng)}, GetParam(), rng, kLinearTolerances);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, LinearOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
