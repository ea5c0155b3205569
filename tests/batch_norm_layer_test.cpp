// BatchNorm2d: PyTorch's training and eval semantics, gradients checked in double on the cpu,
// the same outputs, gradients and running statistics on every device, and synchronised ranks
// (sync_batch_norm) that together compute what one layer computes on the whole batch.
//
// Tolerances (cpu vs device, float): the cpu sums in double, the GPU by trees in float, so the
// batch statistics differ by rounding. Outputs, running statistics and grad_input are O(1):
// the default 1e-5 relative, 1e-6 absolute. grad_weight and grad_bias are sums over N·H·W
// products of O(1) values that cancel: 1e-5 absolute (≈ N·H·W · 2^-24 for the sizes below).
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/batch_norm2d.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kBatchNorm = {{"grad_weight", {1e-5, 1e-5}}, {"grad_bias", {1e-5, 1e-5}}};

// Batch 1, odd and non-square planes, a 1×1 plane with a batch, enough values per channel
// (4,800) that the GPU splits each channel over several blocks.
const std::vector<Shape> kShapes = {{1, 3, 5, 7}, {2, 4, 3, 6}, {5, 2, 1, 1}, {2, 3, 40, 60}};

TEST(BatchNorm2dLayer, StartsAsPyTorchAndNamesItsState) {
  BatchNorm2d layer(3);
  EXPECT_EQ(layer.describe(), "batch_norm2d 3 eps=1e-05 momentum=0.1");
  auto params = layer.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[0].second->value.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(params[1].first, "bias");
  EXPECT_EQ(params[1].second->value.to_vector<float>(), (std::vector<float>{0, 0, 0}));
  auto buffers = layer.buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_EQ(buffers[1].first, "running_var");
  EXPECT_EQ(buffers[1].second->to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(buffers[2].first, "num_batches_tracked");
  EXPECT_EQ(buffers[2].second->dtype(), DType::i64);
  EXPECT_EQ(buffers[2].second->dim(), 0);
  layer.to(Device::cpu(), DType::f64);  // a count stays an integer
  EXPECT_EQ(buffers[2].second->dtype(), DType::i64);
  EXPECT_EQ(buffers[0].second->dtype(), DType::f64);
}

// One training step against the formulas, in double: normalised with the biased variance, running
// statistics moved by momentum with the unbiased one; then eval uses the running statistics.
TEST(BatchNorm2dLayer, TrainsAndEvaluatesAsPyTorch) {
  auto rng = test::test_rng();
  const int64_t n = 2, c = 3, h = 4, w = 5, m = n * h * w;
  BatchNorm2d layer(c, 1e-5, 0.1);
  layer.to(Device::cpu(), DType::f64);
  test::randomize_parameters(layer, rng);
  const Tensor x = test::random_tensor({n, c, h, w}, rng, Device::cpu(), -2.0f, 3.0f).cast(DType::f64);
  const std::vector<double> xs = x.to_vector<double>();
  const std::vector<double> gamma = layer.parameters()[0].second->value.to_vector<double>();
  const std::vector<double> beta = layer.parameters()[1].second->value.to_vector<double>();
  const std::vector<double> y = layer.forward({x}, Mode::train).to_vector<double>();
  const std::vector<double> running_mean = layer.buffers()[0].second->to_vector<double>();
  const std::vector<double> running_var = layer.buffers()[1].second->to_vector<double>();
  EXPECT_EQ(layer.buffers()[2].second->item<int64_t>({}), 1);
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0, var = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t s = 0; s < h * w; ++s) mean += xs[size_t((b * c + ch) * h * w + s)] / double(m);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t s = 0; s < h * w; ++s) var += std::pow(xs[size_t((b * c + ch) * h * w + s)] - mean, 2) / double(m);
    EXPECT_NEAR(running_mean[size_t(ch)], 0.1 * mean, 1e-12);
    EXPECT_NEAR(running_var[size_t(ch)], 0.9 + 0.1 * var * double(m) / double(m - 1), 1e-12);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t s = 0; s < h * w; ++s) {
        const size_t i = size_t((b * c + ch) * h * w + s);
        EXPECT_NEAR(y[i], (xs[i] - mean) / std::sqrt(var + 1e-5) * gamma[size_t(ch)] + beta[size_t(ch)], 1e-12);
      }
  }
  const std::vector<double> eval = layer.forward({x}, Mode::eval).to_vector<double>();
  EXPECT_EQ(layer.buffers()[2].second->item<int64_t>({}), 1);  // eval counts nothing
  for (int64_t ch = 0; ch < c; ++ch) {
    const size_t i = size_t(ch * h * w);
    EXPECT_NEAR(eval[i],
                (xs[i] - running_mean[size_t(ch)]) / std::sqrt(running_var[size_t(ch)] + 1e-5) * gamma[size_t(ch)] +
                    beta[size_t(ch)],
                1e-12);
  }
}

TEST(BatchNorm2dLayer, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {2, 4, 3, 6}, {5, 2, 1, 1}}) {
    BatchNorm2d layer(shape[1]);
    test::check_gradients(layer, {test::random_tensor(shape, rng, Device::cpu(), -2.0f, 2.0f)}, rng);
  }
}

TEST(BatchNorm2dLayer, FrozenParametersAndNoInputGradientCostNothing) {
  auto rng = test::test_rng();
  BatchNorm2d layer(2);
  layer.parameters()[0].second->requires_grad = false;
  layer.zero_grad();
  layer.forward({test::random_tensor({2, 2, 3, 3}, rng)}, Mode::train);
  const std::vector<Tensor> grads = layer.backward(test::random_tensor({2, 2, 3, 3}, rng), {false});
  EXPECT_FALSE(grads[0].defined());
  EXPECT_EQ(layer.parameters()[0].second->grad.to_vector<float>(), (std::vector<float>{0, 0}));
  EXPECT_NE(layer.parameters()[1].second->grad.to_vector<float>(), (std::vector<float>{0, 0}));
}

TEST(BatchNorm2dLayer, RejectsBadInputs) {
  BatchNorm2d layer(3);
  EXPECT_THROW(layer.forward({Tensor::zeros({1, 3, 1, 1})}, Mode::train), Error);  // one value per channel
  EXPECT_NO_THROW(layer.forward({Tensor::zeros({1, 3, 1, 1})}, Mode::eval));
  EXPECT_THROW(layer.forward({Tensor::zeros({2, 4, 3, 3})}, Mode::train), Error);
  EXPECT_THROW(layer.forward({Tensor::zeros({2, 3, 3})}, Mode::train), Error);
  EXPECT_THROW(BatchNorm2d(0), Error);
}

// R ranks as threads of this process, exchanging through memory as MPI ranks would.
class ThreadRanks {
 public:
  explicit ThreadRanks(int ranks) : slots_(size_t(ranks)) {}

  std::vector<double> gather(int rank, const std::vector<double>& values) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slots_[size_t(rank)] = values;
    }
    wait_for_all();
    std::vector<double> gathered;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const std::vector<double>& slot : slots_) gathered.insert(gathered.end(), slot.begin(), slot.end());
    }
    wait_for_all();  // nobody overwrites a slot before every rank has read it
    return gathered;
  }

 private:
  void wait_for_all() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    if (++arrived_ == slots_.size()) {
      arrived_ = 0;
      ++generation_;
      everyone_arrived_.notify_all();
    } else {
      everyone_arrived_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  std::vector<std::vector<double>> slots_;
  std::mutex mutex_;
  std::condition_variable everyone_arrived_;
  size_t arrived_ = 0;
  int64_t generation_ = 0;
};

class ThreadRank final : public BatchNormSync {
 public:
  ThreadRank(ThreadRanks& ranks, int rank, double weight) : ranks_(ranks), rank_(rank), weight_(weight) {}
  std::vector<double> gather(const std::vector<double>& values, const std::string&) override {
    return ranks_.gather(rank_, values);
  }
  double gradient_weight() const override { return weight_; }

 private:
  ThreadRanks& ranks_;
  int rank_;
  double weight_;
};

// A batch of 5 split 3 + 2 over two ranks, in double. The loss is the mean over the samples, so
// rank r's loss carries weight n_r/5 and its backward pass gets dy / w_r; then each rank's
// output and dx are the whole batch's rows (dx in its own units: × 1/w_r), the running statistics
// are the whole batch's, and the parameter gradients weighted by w_r add up to the whole batch's.
TEST(BatchNorm2dLayer, SynchronisedRanksComputeWhatOneLayerComputesOnTheWholeBatch) {
  auto rng = test::test_rng();
  const int64_t n = 5, c = 3;
  const std::vector<int64_t> rows = {0, 3, 5};
  BatchNorm2d whole(c);
  whole.to(Device::cpu(), DType::f64);
  test::randomize_parameters(whole, rng);
  const Tensor x = test::random_tensor({n, c, 4, 3}, rng, Device::cpu(), -2.0f, 3.0f).cast(DType::f64);
  const Tensor dy = test::random_tensor({n, c, 4, 3}, rng).cast(DType::f64);
  whole.zero_grad();
  const Tensor y = whole.forward({x}, Mode::train);
  const Tensor dx = whole.backward(dy, {true})[0];

  ThreadRanks ranks(2);
  std::vector<std::unique_ptr<BatchNorm2d>> layers;
  std::vector<std::unique_ptr<ThreadRank>> syncs;
  std::vector<Tensor> ys(2), dxs(2);
  for (int r = 0; r < 2; ++r) {
    layers.push_back(std::make_unique<BatchNorm2d>(c));
    layers[r]->to(Device::cpu(), DType::f64);
    for (size_t p = 0; p < 2; ++p)
      layers[r]->parameters()[p].second->value.copy_from(whole.parameters()[p].second->value);
    layers[r]->zero_grad();
    syncs.push_back(std::make_unique<ThreadRank>(ranks, r, double(rows[r + 1] - rows[r]) / double(n)));
    layers[r]->synchronise(syncs[r].get());
  }
  const auto rows_of = [&](const Tensor& t, int r) { return t.slice(0, rows[r], rows[r + 1]).contiguous(); };
  const auto times = [](const Tensor& t, double factor) {
    std::vector<double> values = t.to_vector<double>();
    for (double& value : values) value *= factor;
    return Tensor::from_vector(values, t.shape());
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      const double weight = syncs[r]->gradient_weight();
      ys[r] = layers[r]->forward({rows_of(x, r)}, Mode::train);
      dxs[r] = times(layers[r]->backward(times(rows_of(dy, r), 1 / weight), {true})[0], weight);
    });
  for (std::thread& thread : threads) thread.join();

  for (int r = 0; r < 2; ++r) {
    test::expect_normwise_close("y", ys[r], rows_of(y, r), 1e-13);
    test::expect_normwise_close("dx", dxs[r], rows_of(dx, r), 1e-13);
    test::expect_normwise_close("running_mean", *layers[r]->buffers()[0].second, *whole.buffers()[0].second, 1e-13);
    test::expect_normwise_close("running_var", *layers[r]->buffers()[1].second, *whole.buffers()[1].second, 1e-13);
  }
  for (size_t p = 0; p < 2; ++p) {
    std::vector<double> weighted(size_t(c), 0.0);
    for (int r = 0; r < 2; ++r) {
      const std::vector<double> grad = layers[r]->parameters()[p].second->grad.to_vector<double>();
      for (size_t i = 0; i < weighted.size(); ++i) weighted[i] += syncs[r]->gradient_weight() * grad[i];
    }
    test::expect_normwise_close(whole.parameters()[p].first, Tensor::from_vector(weighted, {c}),
                                whole.parameters()[p].second->grad, 1e-13);
  }
}

class BatchNormOnDevices : public testing::TestWithParam<Device> {};

TEST_P(BatchNormOnDevices, TrainingAgreesWithCpu) {
  auto rng = test::test_rng();
  for (const Shape& shape : kShapes)
    test::check_devices_agree([&] { return std::make_unique<BatchNorm2d>(shape[1]); },
                              {test::random_tensor(shape, rng, Device::cpu(), -2.0f, 3.0f)}, GetParam(), rng,
                              kBatchNorm);
}

TEST_P(BatchNormOnDevices, EvalAgreesWithCpu) {
  auto rng = test::test_rng();
  test::check_devices_agree([] { return std::make_unique<BatchNorm2d>(3); }, {test::random_tensor({1, 3, 5, 7}, rng)},
                            GetParam(), rng, kBatchNorm, Mode::eval);
}

// A mean far from zero against a small spread: a float E[x²] − mean² would lose the variance
// (1000² · 2^-24 ≈ 0.06 > the variance 0.013); the second pass over (x − mean)² keeps it. What
// remains is float's resolution of the mean (~1e-4 of 1000), ~1e-3 of the spread in y.
TEST_P(BatchNormOnDevices, VarianceSurvivesALargeMean) {
  auto rng = test::test_rng();
  std::vector<float> v = test::random_tensor({4, 2, 8, 8}, rng, Device::cpu(), -0.2f, 0.2f).to_vector<float>();
  for (float& x : v) x += 1000.0f;
  const Tensor x = Tensor::from_vector(v, {4, 2, 8, 8});
  BatchNorm2d reference(2), tested(2);
  reference.to(Device::cpu(), DType::f64);
  tested.to(GetParam());
  const std::vector<double> want = reference.forward({x.cast(DType::f64)}, Mode::train).to_vector<double>();
  const std::vector<float> got = tested.forward({x.to(GetParam())}, Mode::train).to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-2) << i;  // y is O(1)
  const std::vector<double> want_var = reference.buffers()[1].second->to_vector<double>();
  const std::vector<float> got_var = tested.buffers()[1].second->to_vector<float>();
  for (size_t c = 0; c < 2; ++c) EXPECT_NEAR(got_var[c], want_var[c], 1e-3 * (want_var[c] - 0.9)) << c;
}

// The GPU's sums use no atomics: two runs give the same bits (check_bitwise_reproducible).
TEST_P(BatchNormOnDevices, IsBitwiseReproducible) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 40, 60}, rng, Device::cpu(), -2.0f, 3.0f).to(GetParam());
  const Tensor dy = test::random_tensor({2, 3, 40, 60}, rng).to(GetParam());
  test::check_bitwise_reproducible(
      [&] {
        BatchNorm2d layer(3);
        layer.to(GetParam());
        std::vector<float> bits = layer.forward({x}, Mode::train).to_vector<float>();
        for (const Tensor& t : {layer.backward(dy, {true})[0], layer.parameters()[0].second->grad,
                                *layer.buffers()[1].second})
          for (float v : t.to_vector<float>()) bits.push_back(v);
        return bits;
      },
      rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, BatchNormOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
