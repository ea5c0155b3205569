// LeakyReLU, Sigmoid and Softmax: gradient-checked in double on the cpu, the same on every
// device, and stable at extreme inputs.
//
// Tolerances (cpu vs device, float): LeakyReLU is one compare and one multiply, exact on every
// device ({0, 0}). Sigmoid and softmax call exp(), which CUDA's libm computes within 2 ulp of
// glibc's: 1e-6 relative. Softmax also sums its row in another order on the GPU (lanes, then a
// butterfly): the default 1e-5 relative, 1e-6 absolute.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/leaky_relu.h"
#include "nn/layers/sigmoid.h"
#include "nn/layers/softmax.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kExact = {{"output", {0, 0}}, {"grad_input0", {0, 0}}};
const test::Tolerances kExp = {{"output", {1e-6, 1e-7}}, {"grad_input0", {1e-6, 1e-7}}};

// Batch 1, odd and non-square planes, a flat [N, C], a 3-d tensor.
const std::vector<Shape> kShapes = {{1, 3, 5, 7}, {2, 4, 6, 6}, {3, 17}, {2, 5, 3}};

TEST(LeakyReLULayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes) {
    LeakyReLU layer(0.2);
    test::check_gradients(layer, {test::random_tensor(shape, rng)}, rng);
  }
}

TEST(LeakyReLULayer, ComputesPyTorchsValuesAndGradientAtZero) {
  LeakyReLU layer(0.1);
  const Tensor y = layer.forward({Tensor::from_vector<float>({-2, 0, 3}, {3})}, Mode::train);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-0.2f, 0.0f, 3.0f}));
  const Tensor dx = layer.backward(Tensor::from_vector<float>({1, 1, 1}, {3}), {true})[0];
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0.1f, 0.1f, 1.0f}));  // slope at 0, as PyTorch
  EXPECT_EQ(layer.describe(), "leaky_relu 0.1");
}

TEST(SigmoidLayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes) {
    Sigmoid layer;
    test::check_gradients(layer, {test::random_tensor(shape, rng, Device::cpu(), -4.0f, 4.0f)}, rng);
  }
}

TEST(SigmoidLayer, SaturatesWithoutOverflowAtHugeInputs) {
  for (Device device : test::all_devices()) {
    Sigmoid layer;
    const Tensor y = layer.forward({Tensor::from_vector<float>({-1e4f, -100, 0, 100, 1e4f}, {5}, device)}, Mode::eval);
    const std::vector<float> v = y.to_vector<float>();
    EXPECT_EQ(v[0], 0.0f) << device.name();
    EXPECT_LT(v[1], 1e-40f) << device.name();  // e^-100 ≈ 3.7e-44, a denormal (a GPU may flush it)
    EXPECT_GE(v[1], 0.0f) << device.name();
    EXPECT_EQ(v[2], 0.5f) << device.name();
    EXPECT_EQ(v[3], 1.0f) << device.name();
    EXPECT_EQ(v[4], 1.0f) << device.name();
  }
}

TEST(SoftmaxLayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes) {
    Softmax layer;
    test::check_gradients(layer, {test::random_tensor(shape, rng, Device::cpu(), -3.0f, 3.0f)}, rng);
  }
}

TEST(SoftmaxLayer, NormalisesEachPixelOverTheChannels) {
  auto rng = test::test_rng();
  Softmax layer;
  const Tensor y = layer.forward({test::random_tensor({2, 3, 4, 5}, rng)}, Mode::eval);
  const std::vector<float> v = y.to_vector<float>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t s = 0; s < 20; ++s) {
      double sum = 0;
      for (int64_t c = 0; c < 3; ++c) sum += v[size_t((n * 3 + c) * 20 + s)];
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
}

TEST(SoftmaxLayer, IsStableAndShiftInvariantAtLargeValues) {
  for (Device device : test::all_devices()) {
    Softmax layer;
    const std::vector<float> shifted =
        layer.forward({Tensor::from_vector<float>({1000, 1001, 1002, -1e4f, 0, 1e4f}, {2, 3}, device)}, Mode::eval)
            .to_vector<float>();
    const std::vector<float> reference =
        layer.forward({Tensor::from_vector<float>({0, 1, 2}, {1, 3}, device)}, Mode::eval).to_vector<float>();
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(shifted[size_t(c)], reference[size_t(c)], 1e-6) << device.name();
    EXPECT_EQ(shifted[3], 0.0f) << device.name();
    EXPECT_EQ(shifted[4], 0.0f) << device.name();
    EXPECT_EQ(shifted[5], 1.0f) << device.name();
  }
}

TEST(SoftmaxLayer, RejectsAOneDimensionalInput) {
  Softmax layer;
  EXPECT_THROW(layer.forward({Tensor::zeros({4})}, Mode::eval), Error);
}

class ActivationsOnDevices : public testing::TestWithParam<Device> {};

TEST_P(ActivationsOnDevices, LeakyReLUAgreesWithCpu) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes)
    test::check_devices_agree([] { return std::make_unique<LeakyReLU>(0.01); }, {test::random_tensor(shape, rng)},
                              GetParam(), rng, kExact);
}

TEST_P(ActivationsOnDevices, SigmoidAgreesWithCpu) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes)
    test::check_devices_agree([] { return std::make_unique<Sigmoid>(); },
                              {test::random_tensor(shape, rng, Device::cpu(), -8.0f, 8.0f)}, GetParam(), rng, kExp);
}

TEST_P(ActivationsOnDevices, SoftmaxAgreesWithCpu) {
  auto rng = test::test_rng();
  // Rows shorter and longer than a warp (the GPU strides 32 lanes over the channels).
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {3, 17}, {2, 70}, {2, 40, 3, 2}})
    test::check_devices_agree([] { return std::make_unique<Softmax>(); },
                              {test::random_tensor(shape, rng, Device::cpu(), -5.0f, 5.0f)}, GetParam(), rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, ActivationsOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
