// i2v serve's batching queue (apps/batched_model.h): pictures submitted together from many
// threads share forward passes, and each gets exactly what a forward pass of it alone gives.
#include "apps/batched_model.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/random.h"
#include "nn/model_config.h"
#include "nn/model_zoo.h"

namespace i2v {
namespace {

constexpr int64_t kSize = 32;

TrainedModel small_tagger() {
  ZooOptions options;
  options.input_size = kSize;
  options.width = 0.125;
  options.outputs = 6;
  TrainedModel trained;
  trained.model = std::make_unique<Model>(build_model(zoo_config("i2v-tag", options)));
  trained.model->initialize(5);
  trained.preprocess.size = int(kSize);
  return trained;
}

std::vector<float> random_picture(uint64_t seed) {
  Rng rng(seed);
  std::vector<float> chw(size_t(3 * kSize * kSize));
  for (float& v : chw) v = rng.normal();
  return chw;
}

// The output of one picture run alone through a model of the same weights.
std::vector<float> alone(Model& model, const std::vector<float>& chw, const std::string& layer) {
  Tensor input = Tensor::empty({1, 3, kSize, kSize});
  std::copy(chw.begin(), chw.end(), input.data<float>());
  return model.forward(input, Mode::eval, layer).contiguous().to_vector<float>();
}

TEST(BatchedModel, ConcurrentPicturesShareForwardPassesAndGetTheirOwnRows) {
  TrainedModel reference = small_tagger();
  BatchingOptions options;
  options.max_batch = 8;
  options.max_wait = std::chrono::milliseconds(50);
  BatchedModel batched(small_tagger(), Device::cpu(), options);
  constexpr int kThreads = 24;
  std::vector<std::vector<float>> pictures, got(kThreads);
  for (int i = 0; i < kThreads; ++i) pictures.push_back(random_picture(100 + uint64_t(i)));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      // Half want the output, half a hidden layer: batches hold one layer each.
      got[size_t(i)] = batched.submit(pictures[size_t(i)], i % 2 ? "" : "conv6_4").get().values;
    });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    const std::vector<float> want = alone(*reference.model, pictures[size_t(i)], i % 2 ? "" : "conv6_4");
    ASSERT_EQ(got[size_t(i)].size(), want.size()) << i;
    for (size_t k = 0; k < want.size(); ++k) ASSERT_NEAR(got[size_t(i)][k], want[k], 1e-5f * (1 + std::abs(want[k]))) << i;
  }
  const BatchedModel::Stats stats = batched.stats();
  EXPECT_EQ(stats.pictures, kThreads);
  EXPECT_LT(stats.batches, kThreads);  // pictures that came together ran together
  EXPECT_GT(stats.largest_batch, 1);
  EXPECT_LE(stats.largest_batch, options.max_batch);
}

TEST(BatchedModel, AFullQueueRefusesAtOnceAndErrorsReachEveryPictureOfTheBatch) {
  BatchingOptions options;
  options.max_batch = 64;
  options.max_wait = std::chrono::milliseconds(300);  // the first picture waits: the queue fills
  options.queue_limit = 3;
  BatchedModel batched(small_tagger(), Device::cpu(), options);
  std::vector<std::future<Activation>> waiting;
  for (int i = 0; i < 3; ++i) waiting.push_back(batched.submit(random_picture(uint64_t(i)), "no_such_layer"));
  EXPECT_THROW(batched.submit(random_picture(9), ""), QueueFull);
  for (auto& result : waiting) EXPECT_THROW(result.get(), Error);  // the forward pass's error, in each
  EXPECT_THROW(batched.submit(std::vector<float>(5), ""), Error);   // not a picture of the model's size
  // And it goes on serving.
  EXPECT_EQ(batched.submit(random_picture(1), "").get().values.size(), 6u);
}

TEST(BatchedModel, StoppingFinishesWhatIsQueued) {
  BatchingOptions options;
  options.max_wait = std::chrono::milliseconds(200);
  std::vector<std::future<Activation>> results;
  {
    BatchedModel batched(small_tagger(), Device::cpu(), options);
    for (int i = 0; i < 5; ++i) results.push_back(batched.submit(random_picture(uint64_t(i)), ""));
  }
  for (auto& result : results) EXPECT_EQ(result.get().shape, Shape({6}));
}

}  // namespace
}  // namespace i2v
