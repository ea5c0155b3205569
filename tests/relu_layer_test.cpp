// ReLU: gradient-checked in double on the cpu, and the same on every device.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

// PyTorch's torch.relu and its backward on these values (checked with PyTorch 2 on the cpu, in
// f32 and bf16): a NaN passes through both ways, -0 stays -0, and the gradient is 0 at 0 and
// below. So a NaN that reaches a ReLU shows in the loss rather than being zeroed.
class ReLUEveryDevice : public testing::TestWithParam<Device> {};

TEST_P(ReLUEveryDevice, PassesNaNsAndNegativeZeroAsPyTorch) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> x{nan, -nan, inf, -inf, -0.0, 0.0, 1.5, -2.0};
  const std::vector<double> y{nan, nan, inf, 0.0, -0.0, 0.0, 1.5, 0.0};
  const std::vector<double> dx{3, 3, 3, 0, 0, 0, 3, 0};
  const auto expect_same = [](const Tensor& got, const std::vector<double>& want, DType dtype, const char* what) {
    const std::vector<double> values = got.to(Device::cpu()).cast(DType::f64).to_vector<double>();
    ASSERT_EQ(values.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(testing::Message() << what << " " << i << " in " << dtype_name(dtype));
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(values[i])) << values[i];
      } else {
        EXPECT_EQ(values[i], want[i]);
        EXPECT_EQ(std::signbit(values[i]), std::signbit(want[i]));
      }
    }
  };
  std::vector<DType> dtypes{DType::f32, DType::bf16};
  if (GetParam().is_cpu()) dtypes.push_back(DType::f64);  // the gradient checker's reference
  for (const DType dtype : dtypes) {
    ReLU relu;
    const Tensor input = Tensor::from_vector(x, {2, 4}).cast(dtype).to(GetParam());
    expect_same(relu.forward({input}, Mode::train), y, dtype, "y");
    const Tensor dy = Tensor::from_vector(std::vector<double>(x.size(), 3.0), {2, 4}).cast(dtype).to(GetParam());
    expect_same(relu.backward(dy, {true})[0], dx, dtype, "dx");
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, ReLUEveryDevice, testing::ValuesIn(test::all_devices()), test::device_name);

}  // namespace
}  // namespace i2v
