// Dropout: the mask is a function of (seed, call count, index) — the same on every device and in
// float and double — its rate is p, eval is the identity, and the state round-trips.
// Tolerances (cpu vs device): one multiply by the same scale, exact ({0, 0}).
#include <gtest/gtest.h>

#include "kernels/dropout.h"
#include "base/error.h"
#include "nn/layers/dropout.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kExact = {{"output", {0, 0}}, {"grad_input0", {0, 0}}};

TEST(DropoutLayer, GradientsMatchCentralDifferencesForAFixedMask) {
  auto rng = test::test_rng();
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {4, 9}}) {
    Dropout layer(0.3, 7);
    test::GradientCheckOptions options;
    options.before_forward = [](Layer& l) { l.set_random_state({7, 0}); };
    test::check_gradients(layer, {test::random_tensor(shape, rng)}, rng, options);
  }
}

TEST(DropoutLayer, DropsAboutPAndScalesTheRest) {
  auto rng = test::test_rng();
  const int64_t n = 40000;
  for (double p : {0.1, 0.5, 0.9}) {
    Dropout layer(p, rng());
    const std::vector<float> y =
        layer.forward({Tensor::full({n}, 1.0, DType::f32)}, Mode::train).to_vector<float>();
    int64_t dropped = 0;
    for (float v : y) {
      if (v == 0.0f) ++dropped;
      else EXPECT_FLOAT_EQ(v, float(1.0 / (1.0 - p)));
    }
    // Binomial(n, p): 6 standard deviations.
    EXPECT_NEAR(double(dropped) / double(n), p, 6 * std::sqrt(p * (1 - p) / double(n))) << "p = " << p;
  }
}

TEST(DropoutLayer, EdgeRatesAndEvalMode) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({3, 5}, rng);
  Dropout none(0.0), all(1.0);
  EXPECT_EQ(none.forward({x}, Mode::train).to_vector<float>(), x.to_vector<float>());
  for (float v : all.forward({x}, Mode::train).to_vector<float>()) EXPECT_EQ(v, 0.0f);
  Dropout half(0.5);
  const Tensor y = half.forward({x}, Mode::eval);
  EXPECT_TRUE(y.shares_storage(x));
  EXPECT_EQ(half.random_state()[1], 0u);  // eval draws no mask
  EXPECT_THROW(half.backward(x, {true}), Error);
  EXPECT_THROW(Dropout(1.5), Error);
}

TEST(DropoutLayer, EachCallDrawsANewMaskAndTheStateReplaysIt) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({64}, rng);
  Dropout layer(0.5, 42);
  const std::vector<float> first = layer.forward({x}, Mode::train).to_vector<float>();
  const std::vector<uint64_t> after_first = layer.random_state();
  EXPECT_EQ(after_first, (std::vector<uint64_t>{42, 1}));
  const std::vector<float> second = layer.forward({x}, Mode::train).to_vector<float>();
  EXPECT_NE(first, second);
  // A checkpoint taken after the first call resumes with the second mask.
  Dropout resumed(0.5);
  resumed.set_random_state(after_first);
  EXPECT_EQ(resumed.forward({x}, Mode::train).to_vector<float>(), second);
  // Another seed, another mask.
  Dropout other(0.5, 43);
  EXPECT_NE(other.forward({x}, Mode::train).to_vector<float>(), first);
}

TEST(DropoutLayer, MaskIsTheSameInFloatAndDouble) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 7, 5}, rng, Device::cpu(), 0.5f, 1.0f);  // never 0
  Dropout in_float(0.4, 9), in_double(0.4, 9);
  const std::vector<float> a = in_float.forward({x}, Mode::train).to_vector<float>();
  const std::vector<double> b = in_double.forward({x.cast(DType::f64)}, Mode::train).to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i] == 0.0f, b[i] == 0.0) << i;
}

TEST(DropoutLayer, BackwardUsesTheForwardsMask) {
  auto rng = test::test_rng();
  Dropout layer(0.5, 3);
  const Tensor x = test::random_tensor({50}, rng, Device::cpu(), 0.5f, 1.0f);
  const std::vector<float> y = layer.forward({x}, Mode::train).to_vector<float>();
  const std::vector<float> dx = layer.backward(Tensor::full({50}, 1.0), {true})[0].to_vector<float>();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(dx[i], y[i] == 0.0f ? 0.0f : 2.0f) << i;
}

class DropoutOnDevices : public testing::TestWithParam<Device> {};

TEST_P(DropoutOnDevices, DrawsTheCpusMask) {
  auto rng = test::test_rng();
  const uint64_t seed = rng();
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {2, 1539}})
    test::check_devices_agree([seed] { return std::make_unique<Dropout>(0.5, seed); },
                              {test::random_tensor(shape, rng)}, GetParam(), rng, kExact);
}

INSTANTIATE_TEST_SUITE_P(Devices, DropoutOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
