// The losses: PyTorch's values and gradients, gradients checked in double on the cpu, stable at
// huge logits, and the same on every device.
//
// Tolerances (cpu vs device, float): the losses are sums, in double on the cpu and by trees in
// float on the GPU, of terms with exp/log1p (within 2 ulp of glibc's on CUDA): "loss" 1e-5
// relative (the default). "grad_logits" is elementwise from the same sums' normaliser: 1e-5
// relative, 1e-7 absolute for the tiny gradients of a mean over thousands of elements.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kLoss = {{"loss", {1e-5, 1e-6}}, {"grad_logits", {1e-5, 1e-7}}};

double value(const Tensor& loss) { return loss.cast(DType::f64).to_vector<double>().at(0); }

// Targets in {0, 1} and a few soft ones; a mask keeping about 70%.
Tensor random_targets(const Shape& shape, std::mt19937_64& rng) {
  std::vector<float> v(size_t(shape_numel(shape)));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& t : v) {
    const float r = u(rng);
    t = r < 0.45f ? 0.0f : r < 0.9f ? 1.0f : u(rng);
  }
  return Tensor::from_vector(v, shape);
}

Tensor random_mask(const Shape& shape, std::mt19937_64& rng) {
  std::vector<float> v(size_t(shape_numel(shape)));
  std::bernoulli_distribution keep(0.7);
  for (float& m : v) m = keep(rng) ? 1.0f : 0.0f;
  v[0] = 1.0f;
  return Tensor::from_vector(v, shape);
}

Tensor random_labels(int64_t n, int64_t classes, std::mt19937_64& rng, DType dtype = DType::i64) {
  std::uniform_int_distribution<int64_t> label(0, classes - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t& t : v) t = label(rng);
  return Tensor::from_vector(v, {n}).cast(dtype);
}

TEST(BCEWithLogitsLoss, MatchesPyTorch) {
  // torch.nn.functional.binary_cross_entropy_with_logits, PyTorch 1.13, in float64.
  const Tensor x = Tensor::from_vector<double>({-3.0, -0.5, 0.0, 0.7, 2.5, 1.5, -2.0, 4.0, -0.1, 0.3}, {2, 5});
  const Tensor t = Tensor::from_vector<double>({0.0, 1.0, 1.0, 0.0, 0.3, 1.0, 0.0, 1.0, 1.0, 0.0}, {2, 5});
  const Tensor pos_weight = Tensor::from_vector<double>({1.0, 2.0, 0.5, 3.0, 1.5}, {5});
  struct Case {
    Reduction reduction;
    Tensor pos_weight;
    double loss;
    std::vector<double> grad;  // the first four
  };
  const Case cases[] = {
      {Reduction::mean, Tensor(), 0.6593130420977433,
       {0.004742587317756678, -0.06224593312018546, -0.05, 0.06681877721681662}},
      {Reduction::mean, pos_weight, 0.8712185631209687,
       {0.004742587317756678, -0.12449186624037092, -0.025, 0.06681877721681662}},
      {Reduction::sum, pos_weight, 8.712185631209687,
       {0.04742587317756678, -1.2449186624037092, -0.25, 0.6681877721681662}},
      // The sum over each of the 2 rows, averaged: half the sum.
      {Reduction::batch_mean, pos_weight, 4.3560928156048435,
       {0.02371293658878339, -0.6224593312018546, -0.125, 0.3340938860840831}},
  };
  for (const Case& c : cases) {
    BCEWithLogits loss(c.reduction, c.pos_weight);
    EXPECT_NEAR(value(loss.forward({x, t})), c.loss, 1e-14) << loss.describe();
    const std::vector<double> grad = loss.backward().to_vector<double>();
    for (size_t i = 0; i < c.grad.size(); ++i) EXPECT_NEAR(grad[i], c.grad[i], 1e-14) << loss.describe() << " " << i;
  }
}

TEST(BCEWithLogitsLoss, IsExactAtHugeLogitsOnEveryDevice) {
  for (Device device : test::all_devices()) {
    BCEWithLogits loss(Reduction::sum);
    const Tensor x = Tensor::from_vector<float>({1e4f, -1e4f, 1e4f, -1e4f, 80, -80}, {1, 6}, device);
    const Tensor t = Tensor::from_vector<float>({0, 1, 1, 0, 1, 1}, {1, 6}, device);
    // PyTorch: [1e4, 1e4, 0, 0, 1.8e-35, 80]; the sum in float is 20080.
    EXPECT_EQ(value(loss.forward({x, t})), 20080.0) << device.name();
    // σ(x) − t, where σ(80) − 1 = −e^−80 is kept, not rounded to 0.
    const std::vector<float> expected = {1, -1, 0, 0, -float(std::exp(-80.0)), -1};
    const std::vector<float> grad = loss.backward().to_vector<float>();
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(grad[i], expected[i]) << device.name() << " " << i;
  }
}

TEST(BCEWithLogitsLoss, MaskIgnoresElementsAndAveragesOverTheKeptOnes) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({3, 4}, rng, Device::cpu(), -3, 3), t = random_targets({3, 4}, rng);
  std::vector<float> keep(12, 0.0f);
  keep[1] = keep[6] = keep[11] = 1.0f;
  BCEWithLogits masked, each(Reduction::sum);
  const double mean = value(masked.forward({x, t, Tensor::from_vector(keep, {3, 4})}));
  const std::vector<float> grad = masked.backward().to_vector<float>();
  double expected = 0;
  for (int64_t i : {1, 6, 11}) {
    std::vector<float> one(12, 0.0f);
    one[size_t(i)] = 1.0f;
    expected += value(each.forward({x, t, Tensor::from_vector(one, {3, 4})})) / 3;
  }
  EXPECT_NEAR(mean, expected, 1e-6);
  for (size_t i = 0; i < 12; ++i)
    if (keep[i] == 0.0f) EXPECT_EQ(grad[i], 0.0f) << i;
    else EXPECT_NE(grad[i], 0.0f) << i;
  // Nothing kept: a loss of 0 and no gradient, not 0/0.
  EXPECT_EQ(value(masked.forward({x, t, Tensor::zeros({3, 4})})), 0.0);
  for (float g : masked.backward().to_vector<float>()) EXPECT_EQ(g, 0.0f);
}

TEST(BCEWithLogitsLoss, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  const Tensor pos_weight = test::random_tensor({7}, rng, Device::cpu(), 0.5f, 4.0f);
  for (const Shape& shape : std::vector<Shape>{{1, 7}, {3, 7}, {2, 3, 7}}) {
    const Tensor x = test::random_tensor(shape, rng, Device::cpu(), -4, 4), t = random_targets(shape, rng);
    BCEWithLogits plain, weighted(Reduction::mean, pos_weight), summed(Reduction::sum, pos_weight);
    test::check_loss_gradients(plain, {x, t}, rng);
    test::check_loss_gradients(weighted, {x, t, random_mask(shape, rng)}, rng);
    test::check_loss_gradients(summed, {x, t}, rng);
  }
}

TEST(BCEWithLogitsLoss, RejectsMismatchedInputs) {
  BCEWithLogits loss(Reduction::mean, Tensor::zeros({5}));
  EXPECT_THROW(loss.forward({Tensor::zeros({2, 5})}), Error);
  EXPECT_THROW(loss.forward({Tensor::zeros({2, 5}), Tensor::zeros({2, 4})}), Error);
  EXPECT_THROW(loss.forward({Tensor::zeros({2, 4}), Tensor::zeros({2, 4})}), Error);  // pos_weight of 5
  EXPECT_THROW(loss.forward({Tensor::zeros({2, 5}), Tensor::zeros({2, 5}), Tensor::zeros({5})}), Error);
  EXPECT_THROW(BCEWithLogits().backward(), Error);
  EXPECT_EQ(loss.describe(), "bce_with_logits mean pos_weight[5]");
}

TEST(CrossEntropyLoss, MatchesPyTorch) {
  // torch.nn.functional.cross_entropy, PyTorch 1.13, in float64; the last row's logits are large.
  const Tensor x = Tensor::from_vector<double>({2.0, -1.0, 0.5, 0.1, 0.2, -3.0, 1000, 1001, 999}, {3, 3});
  const std::vector<double> grad = {-0.07146765513690803, 0.013037524423562482, 0.05843013071334556,
                                    0.15502288819648646,  0.17132678767084944,  -0.32634967586733593,
                                    0.08157615701826587,  -0.1115863480750594,  0.030010191056793478};
  for (DType dtype : {DType::i64, DType::i32}) {
    CrossEntropy loss;
    EXPECT_NEAR(value(loss.forward({x, Tensor::from_vector<int64_t>({0, 2, 1}, {3}).cast(dtype)})), 1.504829159871351,
                1e-12);  // the last row's log-sum-exp is ~1001: 1e-13 of it is rounding
    const std::vector<double> g = loss.backward().to_vector<double>();
    for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(g[i], grad[i], 1e-12) << i;
  }
}

TEST(CrossEntropyLoss, IsFiniteAtHugeLogitsOnEveryDevice) {
  for (Device device : test::all_devices()) {
    CrossEntropy loss;
    const Tensor x = Tensor::from_vector<float>({1e4f, -1e4f, 0, /**/ -1e4f, 1e4f, 1e4f}, {2, 3}, device);
    // Row 0: the target wins by 1e4 (loss 0); row 1: the target loses by 2e4 (loss 2e4 + log 2).
    const double l = value(loss.forward({x, Tensor::from_vector<int64_t>({0, 0}, {2}, device)}));
    EXPECT_NEAR(l, (0.0 + 2e4 + std::log(2.0)) / 2, 1e-2) << device.name();
    EXPECT_EQ(loss.backward().to_vector<float>(), (std::vector<float>{0, 0, 0, -0.5f, 0.25f, 0.25f})) << device.name();
  }
}

TEST(CrossEntropyLoss, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const auto& [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 5}, {4, 3}, {3, 40}}) {
    CrossEntropy loss;
    test::check_loss_gradients(loss, {test::random_tensor({n, k}, rng, Device::cpu(), -3, 3), random_labels(n, k, rng)},
                               rng);
  }
}

TEST(CrossEntropyLoss, RejectsBadTargets) {
  CrossEntropy loss;
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_THROW(loss.forward({x, Tensor::from_vector<int64_t>({0, 3}, {2})}), Error);
  EXPECT_THROW(loss.forward({x, Tensor::from_vector<int64_t>({-1, 0}, {2})}), Error);
  EXPECT_THROW(loss.forward({x, Tensor::from_vector<int64_t>({0}, {1})}), Error);
  EXPECT_THROW(loss.forward({x, Tensor::zeros({2})}), Error);  // float labels
  EXPECT_THROW(loss.forward({Tensor::zeros({2, 3, 1}), Tensor::from_vector<int64_t>({0, 1}, {2})}), Error);
}

class LossesOnDevices : public testing::TestWithParam<Device> {};

TEST_P(LossesOnDevices, BCEWithLogitsAgreesWithCpu) {
  auto rng = test::test_rng();
  // [8, 1539] is the tagging head: 12,312 elements, summed over several blocks and a second pass.
  for (const Shape& shape : std::vector<Shape>{{1, 5}, {3, 17}, {8, 1539}}) {
    const Tensor x = test::random_tensor(shape, rng, Device::cpu(), -6, 6), t = random_targets(shape, rng);
    const Tensor pos_weight = test::random_tensor({shape[1]}, rng, Device::cpu(), 0.5f, 4.0f);
    const Tensor mask = random_mask(shape, rng);
    test::check_loss_devices_agree([] { return std::make_unique<BCEWithLogits>(); }, {x, t}, GetParam(), kLoss);
    test::check_loss_devices_agree([&] { return std::make_unique<BCEWithLogits>(Reduction::mean, pos_weight); },
                                   {x, t, mask}, GetParam(), kLoss);
    test::check_loss_devices_agree([&] { return std::make_unique<BCEWithLogits>(Reduction::sum, pos_weight); }, {x, t},
                                   GetParam(), kLoss);
    test::check_loss_devices_agree([] { return std::make_unique<BCEWithLogits>(Reduction::batch_mean); }, {x, t},
                                   GetParam(), kLoss);
  }
}

TEST_P(LossesOnDevices, CrossEntropyAgreesWithCpu) {
  auto rng = test::test_rng();
  for (const auto& [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 5}, {7, 3}, {3, 1539}}) {
    const Tensor x = test::random_tensor({n, k}, rng, Device::cpu(), -6, 6);
    test::check_loss_devices_agree([] { return std::make_unique<CrossEntropy>(); }, {x, random_labels(n, k, rng)},
                                   GetParam(), kLoss);
    test::check_loss_devices_agree([] { return std::make_unique<CrossEntropy>(); },
                                   {x, random_labels(n, k, rng, DType::i32)}, GetParam(), kLoss);
  }
}

// The GPU's sums use no atomics: two runs give the same bits (check_bitwise_reproducible).
TEST_P(LossesOnDevices, AreBitwiseReproducible) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({8, 1539}, rng, Device::cpu(), -6, 6).to(GetParam());
  const Tensor t = random_targets({8, 1539}, rng).to(GetParam()), labels = random_labels(8, 1539, rng).to(GetParam());
  test::check_bitwise_reproducible(
      [&] {
        BCEWithLogits bce;
        CrossEntropy cross_entropy;
        return std::vector<float>{bce.forward({x, t}).to_vector<float>()[0],
                                  cross_entropy.forward({x, labels}).to_vector<float>()[0]};
      },
      rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, LossesOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
