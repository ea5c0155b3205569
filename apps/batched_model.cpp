#include "apps/batched_model.h"

#include <algorithm>
#include <utility>

namespace i2v {

BatchedModel::BatchedModel(TrainedModel model, Device device, BatchingOptions options)
    : model_(std::move(model)), device_(device), options_(options) {
  I2V_CHECK(options_.max_batch >= 1 && options_.queue_limit >= 1, "batching needs a batch and a queue of at least 1");
  worker_ = std::thread([this] { work(); });
}

BatchedModel::~BatchedModel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

std::future<Activation> BatchedModel::submit(std::vector<float> chw, const std::string& layer) {
  const int64_t size = model_.preprocess.size;
  I2V_CHECK(int64_t(chw.size()) == 3 * size * size, "a picture for {} is 3 x {} x {} floats, not {}",
            model_.model->name(), size, size, chw.size());
  Job job{std::move(chw), layer, {}};
  std::future<Activation> result = job.result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= options_.queue_limit)
      throw QueueFull(__FILE__, __LINE__, "", fmt::format("{} pictures are waiting for the model already: try again shortly",
                                                          queue_.size()));
    queue_.push_back(std::move(job));
  }
  changed_.notify_all();
  return result;
}

BatchedModel::Stats BatchedModel::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats stats = stats_;
  stats.queued = queue_.size();
  return stats;
}

void BatchedModel::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to do
    // The first picture waits at most max_wait for others to share its forward pass.
    const auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
    changed_.wait_until(lock, deadline, [&] { return stopping_ || int64_t(queue_.size()) >= options_.max_batch; });
    // One batch runs one layer: the oldest picture's, with every queued picture that wants the same.
    std::vector<Job> batch;
    const std::string layer = queue_.front().layer;
    for (auto it = queue_.begin(); it != queue_.end() && int64_t(batch.size()) < options_.max_batch;) {
      if (it->layer == layer) {
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    run_batch(batch);
    lock.lock();
    stats_.pictures += int64_t(batch.size());
    stats_.batches += 1;
    stats_.largest_batch = std::max(stats_.largest_batch, int64_t(batch.size()));
  }
}

void BatchedModel::run_batch(std::vector<Job>& jobs) {
  try {
    const int64_t n = int64_t(jobs.size()), size = model_.preprocess.size, plane = 3 * size * size;
    Tensor input = Tensor::empty({n, 3, size, size});
    for (int64_t i = 0; i < n; ++i) std::copy(jobs[size_t(i)].chw.begin(), jobs[size_t(i)].chw.end(), input.data<float>() + i * plane);
    const Tensor output =
        model_.model->forward(input.to(device_), Mode::eval, jobs.front().layer).to(Device::cpu()).contiguous();
    const Shape shape(output.shape().begin() + 1, output.shape().end());
    const int64_t per_picture = output.numel() / n;
    for (int64_t i = 0; i < n; ++i) {
      const float* row = output.data<float>() + i * per_picture;
      jobs[size_t(i)].result.set_value({shape, std::vector<float>(row, row + per_picture)});
    }
  } catch (...) {
    for (Job& job : jobs) job.result.set_exception(std::current_exception());
  }
}

}  // namespace i2v
