// Activations kept for the backward pass (nn/layers/kept_activation.h) on every device: as they
// are at fp32 and in double, as bfloat16 at bf16 (half the bytes), widened back exactly and in
// pieces; the layers' gradients computed from them; a model releasing them as its backward pass
// goes on, so a bf16 step holds about half the activation memory of an fp32 one.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/allocator.h"
#include "kernels/precision.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/layers/kept_activation.h"
#include "nn/layers/leaky_relu.h"
#include "nn/layers/relu.h"
#include "nn/layers/sigmoid.h"
#include "nn/model.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::rounded_bf16;

class KeptActivationTest : public testing::TestWithParam<Device> {};

TEST_P(KeptActivationTest, KeepsTheTensorItselfAtFp32AndInDouble) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 4, 5}, rng).to(GetParam());
  PrecisionScope fp32(Precision::fp32);
  const KeptActivation kept(x);
  EXPECT_TRUE(kept.whole().shares_storage(x));
  int pieces = 0;
  kept.for_each_piece([&](int64_t begin, int64_t end, const Tensor& values) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, x.numel());
    EXPECT_TRUE(values.shares_storage(x));
    ++pieces;
  });
  EXPECT_EQ(pieces, 1);
  if (GetParam().is_cpu()) {
    const Tensor x64 = x.cast(DType::f64);
    PrecisionScope bf16(Precision::bf16);
    EXPECT_TRUE(KeptActivation(x64).whole().shares_storage(x64)) << "double is the gradient checker's reference";
  }
}

TEST_P(KeptActivationTest, KeepsBf16AtBf16AndWidensExactly) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({4, 16, 32, 32}, rng).to(GetParam());  // 256 KiB: no size class rounds it
  PrecisionScope bf16(Precision::bf16);
  Allocator& memory = allocator(GetParam());
  const size_t before = memory.stats().in_use_bytes;
  const KeptActivation kept(x);
  EXPECT_EQ(memory.stats().in_use_bytes - before, x.nbytes() / 2) << "half the bytes of the f32 tensor";
  const Tensor whole = kept.whole();
  EXPECT_EQ(whole.dtype(), DType::f32);
  EXPECT_EQ(whole.shape(), x.shape());
  EXPECT_FALSE(whole.shares_storage(x));
  EXPECT_EQ(whole.to_vector<float>(), rounded_bf16(x.to_vector<float>()));
}

INSTANTIATE_TEST_SUITE_P(Devices, KeptActivationTest, testing::ValuesIn(test::all_devices()), test::device_name);

// Pieces of piece_elements(), in order, covering the tensor once; each the rounded values.
TEST(KeptActivation, WidensInPiecesAtBf16) {
  const int64_t piece = piece_elements(Device::cpu()), n = 2 * piece + 5;
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[size_t(i)] = 1.0f + float(i % 1000) / 997.0f;
  const Tensor x = Tensor::from_vector(values, {n});
  PrecisionScope bf16(Precision::bf16);
  const KeptActivation kept(x);
  const std::vector<float> expected = rounded_bf16(values);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  kept.for_each_piece([&](int64_t begin, int64_t end, const Tensor& piece_values) {
    ranges.emplace_back(begin, end);
    const std::vector<float> got = piece_values.to_vector<float>();
    ASSERT_EQ(int64_t(got.size()), end - begin);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin() + begin));
  });
  EXPECT_EQ(ranges, (std::vector<std::pair<int64_t, int64_t>>{{0, piece}, {piece, 2 * piece}, {2 * piece, n}}));
}

// Pieces of whole units, 1 Mi elements on a cpu and 4 Mi on a GPU: 63 planes of 16,640 elements
// on a cpu, 252 on a GPU; a unit larger than a piece goes alone.
TEST(KeptActivation, PiecesHoldWholeUnits) {
  const auto ranges = [](Device device, int64_t units, int64_t unit_size) {
    std::vector<std::pair<int64_t, int64_t>> seen;
    for_each_piece(piece_elements(device), units, unit_size,
                   [&](int64_t begin, int64_t end) { seen.emplace_back(begin, end); });
    return seen;
  };
  using Ranges = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(piece_elements(Device::cpu()), 1 << 20);
  EXPECT_EQ(piece_elements(Device::sim()), 1 << 22);
  EXPECT_EQ(ranges(Device::cpu(), 130, 16640), (Ranges{{0, 63}, {63, 126}, {126, 130}}));
  EXPECT_EQ(ranges(Device::sim(), 256, 16640), (Ranges{{0, 252}, {252, 256}}));
  EXPECT_EQ(ranges(Device::cpu(), 3, int64_t(5) << 20), (Ranges{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(ranges(Device::cpu(), 10, 1), (Ranges{{0, 10}}));
  EXPECT_EQ(ranges(Device::cpu(), 0, 1), Ranges{});
}

TEST(KeptActivation, RefusesToWidenWhatWasNotKept) {
  const KeptActivation nothing;
  EXPECT_FALSE(nothing.defined());
  EXPECT_THROW(nothing.whole(), Error);
}

// One layer's forward and backward at a precision, on `device`.
struct Pass {
  Tensor y, dx;
  std::vector<Tensor> parameter_grads;
};

Pass run(Layer& layer, const Tensor& x, const Tensor& dy, Precision precision) {
  PrecisionScope scope(precision);
  layer.zero_grad();
  Pass pass;
  pass.y = layer.forward({x}, Mode::train);
  pass.dx = layer.backward(dy, {true}).at(0);
  for (auto& [name, p] : layer.parameters()) pass.parameter_grads.push_back(p->grad.clone());
  return pass;
}

class KeptLayersTest : public testing::TestWithParam<Device> {};

// A ReLU or a LeakyReLU reads only the sign of what it kept, which rounding keeps: its gradients at
// bf16 are fp32's, bit for bit (a normal value never rounds to zero).
TEST_P(KeptLayersTest, ActivationsOfTheSignAreExact) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 4, 6, 6}, rng).to(GetParam());
  const Tensor dy = test::random_tensor({2, 4, 6, 6}, rng).to(GetParam());
  ReLU relu;
  LeakyReLU leaky(0.1);
  for (Layer* layer : std::vector<Layer*>{&relu, &leaky}) {
    const Pass fp32 = run(*layer, x, dy, Precision::fp32), bf16 = run(*layer, x, dy, Precision::bf16);
    EXPECT_EQ(bf16.y.to_vector<float>(), fp32.y.to_vector<float>()) << layer->describe();
    EXPECT_EQ(bf16.dx.to_vector<float>(), fp32.dx.to_vector<float>()) << layer->describe();
  }
}

// A sigmoid keeps its output: at bf16 its gradient is dy · r(y) · (1 − r(y)) with r the rounding.
TEST_P(KeptLayersTest, SigmoidsGradientComesFromItsRoundedOutput) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 4, 6, 6}, rng).to(GetParam());
  const Tensor dy = test::random_tensor({2, 4, 6, 6}, rng).to(GetParam());
  Sigmoid sigmoid;
  const Pass fp32 = run(sigmoid, x, dy, Precision::fp32), bf16 = run(sigmoid, x, dy, Precision::bf16);
  EXPECT_EQ(bf16.y.to_vector<float>(), fp32.y.to_vector<float>());
  const std::vector<float> y = rounded_bf16(fp32.y.to_vector<float>()), g = dy.to_vector<float>(),
                           dx = bf16.dx.to_vector<float>();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(dx[i], g[i] * y[i] * (1.0f - y[i])) << i;
  const double error = test::normwise_relative_error(bf16.dx, fp32.dx);
  EXPECT_LT(error, 1e-2);
  EXPECT_GT(error, 0.0) << "bf16 kept nothing rounded";
}

// BatchNorm2d computes its statistics in fp32 from the f32 input (the same output) and its
// gradients from the input it kept in bf16: within 1e-2 normwise of fp32's, and not equal. The
// rounding moves x − mean by up to 2⁻⁹·|x|, so the error grows with |mean| / std: here the mean
// is 1.7 std (uniform values in [0, 2)), and grad_weight, the largest, stayed under 4.8e-3 over 60
// seeds; 16 channels, so that the norm does not hang on one channel's sum cancelling out.
TEST_P(KeptLayersTest, BatchNormsGradientsFromItsBf16Input) {
  auto rng = test::test_rng();
  std::vector<float> values = test::random_tensor({8, 16, 6, 6}, rng).to_vector<float>();
  for (float& v : values) v += 1.0f;
  const Tensor x = Tensor::from_vector(values, {8, 16, 6, 6}).to(GetParam());
  const Tensor dy = test::random_tensor({8, 16, 6, 6}, rng).to(GetParam());
  BatchNorm2d fp32_layer(16), bf16_layer(16);
  test::randomize_parameters(fp32_layer, rng);
  for (size_t i = 0; i < fp32_layer.parameters().size(); ++i)
    bf16_layer.parameters()[i].second->value = fp32_layer.parameters()[i].second->value.clone();
  fp32_layer.to(GetParam());
  bf16_layer.to(GetParam());
  const Pass fp32 = run(fp32_layer, x, dy, Precision::fp32), bf16 = run(bf16_layer, x, dy, Precision::bf16);
  EXPECT_EQ(bf16.y.to_vector<float>(), fp32.y.to_vector<float>());
  const std::vector<std::pair<std::string, std::pair<Tensor, Tensor>>> grads = {
      {"dx", {bf16.dx, fp32.dx}},
      {"grad_weight", {bf16.parameter_grads[0], fp32.parameter_grads[0]}},
      {"grad_bias", {bf16.parameter_grads[1], fp32.parameter_grads[1]}}};
  for (const auto& [name, pair] : grads) EXPECT_LT(test::normwise_relative_error(pair.first, pair.second), 1e-2) << name;
  EXPECT_GT(test::normwise_relative_error(bf16.dx, fp32.dx), 0.0) << "bf16 kept nothing rounded";
  EXPECT_EQ(bf16.parameter_grads[1].to_vector<float>(), fp32.parameter_grads[1].to_vector<float>())
      << "the bias's gradient is Σ dy: no kept value in it";
}

INSTANTIATE_TEST_SUITE_P(Devices, KeptLayersTest, testing::ValuesIn(test::all_devices()), test::device_name);

// (BatchNorm2d, ReLU) three times: each BatchNorm2d keeps its input, each ReLU its output, one
// activation-sized tensor each, a ReLU's the same tensor as the next BatchNorm2d's.
Model normalized_chain(Device device) {
  Model model("chain", {16, 32, 32});
  for (const char* block : {"1", "2", "3"}) {
    model.add(std::string("bn") + block, std::make_unique<BatchNorm2d>(16));
    model.add(std::string("relu") + block, std::make_unique<ReLU>());
  }
  model.to(device);
  return model;
}

class KeptMemoryTest : public testing::TestWithParam<Device> {};

// After a train-mode forward the chain holds what its six layers kept and its output: at fp32 two
// f32 activations (the first BatchNorm2d keeps the model's input itself, which was there before,
// and the last ReLU's output is the chain's), at bf16 four bf16 ones (the first BatchNorm2d's a
// copy of the input, the last ReLU's beside the output widened): the ReLUs' outputs are shared
// with the BatchNorm2d after them at both precisions (nn/layer.h: a BatchNorm2d keeps the bf16
// tensor it is handed). After backward every layer has released its own: the output and the
// input's gradient are what is left.
TEST_P(KeptMemoryTest, ABf16StepKeepsBf16AndBackwardReleasesIt) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  const Tensor x = test::random_tensor({8, 16, 32, 32}, rng).to(device), dy = test::random_tensor(x.shape(), rng).to(device);
  const size_t activation = x.nbytes();
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    SCOPED_TRACE(precision_name(precision));
    PrecisionScope scope(precision);
    Model model = normalized_chain(device);
    Allocator& memory = allocator(device);
    const size_t before = memory.stats().in_use_bytes;
    const Tensor y = model.forward(x, Mode::train);
    const size_t kept = memory.stats().in_use_bytes - before - activation;  // less the output
    const size_t expected = precision == Precision::fp32 ? 2 * activation : 4 * activation / 2;
    EXPECT_GE(kept, expected);
    EXPECT_LT(kept, expected + 64 * 1024) << "beyond the statistics, only activations";
    const Tensor dx = model.backward(dy, true);
    EXPECT_LT(memory.stats().in_use_bytes - before, 2 * activation + 64 * 1024) << "y and dx";
    test::expect_error_containing([&] { model.backward(dy, true); }, "without a train-mode forward");
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, KeptMemoryTest, testing::ValuesIn(test::all_devices()), test::device_name);

}  // namespace
}  // namespace i2v
