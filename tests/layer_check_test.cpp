// The checkers themselves: a wrong backward and a kernel that writes nothing must fail them.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "nn/layers/relu.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// ReLU whose backward doubles the gradient: a bug the gradient checker must report.
class ReLUWithWrongBackward final : public Layer {
 public:
  std::string kind() const override { return "relu_wrong_backward"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return relu_.output_shape(inputs); }
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override { return relu_.forward(inputs, mode); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& need) override {
    Tensor doubled = Tensor::from_vector(dy.to_vector<double>(), dy.shape());
    std::vector<double> v = doubled.to_vector<double>();
    for (double& x : v) x *= 2;
    return relu_.backward(Tensor::from_vector(v, dy.shape()), need);
  }

 private:
  ReLU relu_;
};

// ReLU whose output on a GPU-like device is never written (an empty tensor): the poisoned
// allocation must make the device comparison fail.
class ReLUThatWritesNothingOnDevices final : public Layer {
 public:
  std::string kind() const override { return "relu_writes_nothing"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return relu_.output_shape(inputs); }
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override {
    if (inputs[0].device().is_cpu()) return relu_.forward(inputs, mode);
    return Tensor::empty(inputs[0].shape(), inputs[0].dtype(), inputs[0].device());
  }
  std::vector<Tensor> backward(const Tensor&, const std::vector<bool>&) override { return {Tensor()}; }

 private:
  ReLU relu_;
};

// The messages of the gtest failures `body` reports, intercepted (they do not fail this test).
std::vector<std::string> failures_of(const std::function<void()>& body) {
  testing::TestPartResultArray results;
  {
    testing::ScopedFakeTestPartResultReporter reporter(
        testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    body();
  }
  std::vector<std::string> messages;
  for (int i = 0; i < results.size(); ++i) messages.push_back(results.GetTestPartResult(i).message());
  return messages;
}

TEST(GradientChecker, ReportsAWrongBackward) {
  auto rng = test::test_rng();
  ReLUWithWrongBackward layer;
  const auto failures = failures_of([&] { test::check_gradients(layer, {test::random_tensor({2, 3, 4}, rng)}, rng); });
  ASSERT_FALSE(failures.empty());
  EXPECT_NE(failures[0].find("analytic"), std::string::npos) << failures[0];
}

TEST(DeviceAgreement, ReportsAnOutputNoKernelWrote) {
  auto rng = test::test_rng();
  const auto failures = failures_of([&] {
    test::check_devices_agree([] { return std::make_unique<ReLUThatWritesNothingOnDevices>(); },
                              {test::random_tensor({4, 5}, rng)}, Device::sim(), rng, {}, Mode::eval);
  });
  ASSERT_FALSE(failures.empty());
  EXPECT_NE(failures[0].find("nan"), std::string::npos) << failures[0];
}

}  // namespace
}  // namespace i2v
