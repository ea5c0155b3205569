// ReLU: gradient-checked in double on the cpu, and the same on every device.
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/relu.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

TEST(ReLULayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : {Shape{1, 3, 5, 7}, Shape{2, 4, 6, 6}}) {
    ReLU relu;
    test::check_gradients(relu, {test::random_tensor(shape, rng)}, rng);
  }
}

TEST(ReLULayer, RejectsBackwardWithoutForward) {
  ReLU relu;
  EXPECT_THROW(relu.backward(Tensor::zeros({2}), {true}), Error);
}

class ReLUOnDevices : public testing::TestWithParam<Device> {};

TEST_P(ReLUOnDevices, AgreesWithCpu) {
  auto rng = test::test_rng();
  test::check_devices_agree([] { return std::make_unique<ReLU>(); }, {test::random_tensor({2, 3, 9, 11}, rng)},
                            GetParam(), rng, {{"output", {0, 0}}, {"grad_input0", {0, 0}}});
}

INSTANTIATE_TEST_SUITE_P(Devices, ReLUOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
