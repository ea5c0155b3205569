// The checkers themselves: a wrong backward and a kernel that writes nothing must fail them.
#include <cmath>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "base/error.h"
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

TEST(NormwiseRelativeError, IsTheNormOfTheDifferenceOverTheReferences) {
  const Tensor reference = Tensor::from_vector(std::vector<double>{3, 4}, {2});
  EXPECT_EQ(test::normwise_relative_error(reference, reference), 0.0);
  const Tensor on_sim = Tensor::from_vector(std::vector<float>{3, 5}, {2}, Device::sim());
  // ‖(0, 1)‖ / ‖(3, 4)‖, on any device and in any dtype
  EXPECT_DOUBLE_EQ(test::normwise_relative_error(on_sim, reference), 0.2);
  const Tensor zeros = Tensor::zeros({2}, DType::f64);
  EXPECT_EQ(test::normwise_relative_error(zeros, zeros), 0.0);
  EXPECT_TRUE(std::isinf(test::normwise_relative_error(reference, zeros)));
  const Tensor with_nan = Tensor::from_vector(std::vector<double>{3, std::nan("")}, {2});
  EXPECT_TRUE(std::isnan(test::normwise_relative_error(with_nan, reference)));
  EXPECT_THROW(test::normwise_relative_error(Tensor::zeros({3}), reference), Error);
}

TEST(NormwiseRelativeError, ExpectNormwiseCloseReportsNamesAndNaN) {
  const Tensor reference = Tensor::from_vector(std::vector<double>{3, 4}, {2});
  EXPECT_TRUE(failures_of([&] { test::expect_normwise_close("x", reference, reference, 0.0); }).empty());
  auto failures = failures_of([&] {
    const Tensor actual = Tensor::from_vector(std::vector<double>{3, 5}, {2});
    test::expect_normwise_close("conv1.weight gradient", actual, reference, 0.1);
  });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("conv1.weight gradient"), std::string::npos) << failures[0];
  const Tensor with_nan = Tensor::from_vector(std::vector<double>{3, std::nan("")}, {2});
  EXPECT_EQ(failures_of([&] { test::expect_normwise_close("y", with_nan, reference, 1e30); }).size(), 1u);
  EXPECT_EQ(failures_of([&] { test::expect_normwise_close("z", Tensor(), reference, 1.0); }).size(), 1u);
}

}  // namespace
}  // namespace i2v
