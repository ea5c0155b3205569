#include "data/data_loader.h"

#include <numeric>

#include "base/random.h"

namespace i2v {

std::map<std::string, Tensor> Batch::auxiliary_on(Device device) const {
  std::map<std::string, Tensor> moved;
  for (const auto& [name, tensor] : auxiliary) moved[name] = tensor.to(device);
  return moved;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, LoaderPosition start)
    : dataset_(std::move(dataset)), options_(options) {
  I2V_CHECK(dataset_ != nullptr, "a data loader needs a dataset");
  I2V_CHECK(options_.batch_size > 0, "batch size must be positive, not {}", options_.batch_size);
  I2V_CHECK(options_.workers >= 0 && options_.workers <= 256, "workers must be in 0..256, not {}", options_.workers);
  I2V_CHECK(options_.prefetch >= 1, "prefetch must be at least 1, not {}", options_.prefetch);
  const int64_t n = dataset_->size();
  batches_per_epoch_ = options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  I2V_CHECK(batches_per_epoch_ > 0, "a dataset of {} samples gives no batch of {} (drop_last)", n, options_.batch_size);
  I2V_CHECK(start.epoch >= 0 && start.batch >= 0 && start.batch <= batches_per_epoch_,
            "loader position epoch {} batch {} is out of range ({} batches per epoch)", start.epoch, start.batch,
            batches_per_epoch_);
  consumed_ = start.epoch * batches_per_epoch_ + start.batch;
  epoch_end_pending_ = start.batch == batches_per_epoch_;
  issued_ = consumed_;
  window_end_ = consumed_ + options_.prefetch;
  for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { work(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  room_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

uint64_t DataLoader::augment_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix_seed(seed ^ 0xA0761D6478BD642Full, uint64_t(epoch), uint64_t(index));
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (options_.shuffle) {
    Rng rng(mix_seed(options_.seed, uint64_t(epoch)));
    shuffle(order.data(), int64_t(order.size()), rng);
  }
  return order;
}

std::shared_ptr<const std::vector<int64_t>> DataLoader::order_of(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(order_mutex_);
  auto& order = orders_[epoch];
  if (!order) order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  while (orders_.size() > 3) orders_.erase(orders_.begin());  // prefetch spans at most two epochs
  return orders_.at(epoch);
}

Batch DataLoader::build(int64_t job) const {
  Batch batch;
  batch.epoch = job / batches_per_epoch_;
  batch.batch = job % batches_per_epoch_;
  const std::shared_ptr<const std::vector<int64_t>> order = order_of(batch.epoch);
  const int64_t begin = batch.batch * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, int64_t(order->size()));
  const Dataset& data = *dataset_;
  const int64_t s = data.preprocess().size, classes = data.num_classes();
  const bool multi_label = data.target_kind() == TargetKind::multi_label;
  Tensor images = Tensor::empty({end - begin, 3, s, s});
  Tensor targets = multi_label ? Tensor::empty({end - begin, classes}) : Tensor::empty({end - begin}, DType::i64);
  std::vector<Tensor> auxiliary;
  for (const auto& features : data.options().auxiliary) auxiliary.push_back(Tensor::empty({end - begin, features->dim()}));
  const size_t image_floats = size_t(3 * s * s);
  int64_t n = 0;
  for (int64_t k = begin; k < end; ++k) {
    const int64_t index = (*order)[size_t(k)];
    try {
      data.load(index, augment_seed(options_.seed, batch.epoch, index), images.data<float>() + size_t(n) * image_floats);
    } catch (const DataError& e) {
      batch.report.add_skipped(e, data.describe(index));
      continue;
    }
    if (multi_label) data.target(index, targets.data<float>() + size_t(n * classes));
    else targets.data<int64_t>()[n] = data.class_index(index);
    for (size_t a = 0; a < auxiliary.size(); ++a)
      data.auxiliary(index, a, auxiliary[a].data<float>() + n * auxiliary[a].size(1));
    batch.indices.push_back(index);
    batch.ids.push_back(data.id(index));
    batch.paths.push_back(data.path(index));
    ++n;
  }
  batch.report.add_read(n);
  batch.images = n == end - begin ? images : images.slice(0, 0, n);
  batch.targets = n == end - begin ? targets : targets.slice(0, 0, n);
  for (size_t a = 0; a < auxiliary.size(); ++a)
    batch.auxiliary[data.options().auxiliary[a]->name()] = n == end - begin ? auxiliary[a] : auxiliary[a].slice(0, 0, n);
  return batch;
}

void DataLoader::work() {
  while (true) {
    int64_t job = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      room_.wait(lock, [&] { return stop_ || issued_ < window_end_; });
      if (stop_) return;
      job = issued_++;
    }
    Result result;
    try {
      result.batch = build(job);
    } catch (...) {
      result.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.emplace(job, std::move(result));
    }
    ready_.notify_all();
  }
}

Batch DataLoader::take() {
  const int64_t job = consumed_++;
  if (workers_.empty()) return build(job);
  Result result;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return results_.count(job) > 0; });
    result = std::move(results_.at(job));
    results_.erase(job);
    window_end_ = consumed_ + options_.prefetch;
  }
  room_.notify_all();
  if (result.error) std::rethrow_exception(result.error);
  return std::move(result.batch);
}

std::optional<Batch> DataLoader::next() {
  while (true) {
    if (epoch_end_pending_) {
      epoch_end_pending_ = false;
      const int64_t epoch = consumed_ / batches_per_epoch_ - 1;
      last_epoch_report_ = epoch_report_;
      epoch_report_.clear();
      if (last_epoch_report_.read() == 0 && last_epoch_report_.skipped() > 0)
        I2V_THROW("nothing in epoch {} was readable: {}", epoch,
                  last_epoch_report_.summary(fmt::format("epoch {}", epoch)));
      return std::nullopt;
    }
    Batch batch = take();
    epoch_report_.merge(batch.report);
    if (batch.batch == batches_per_epoch_ - 1) epoch_end_pending_ = true;
    if (batch.size() > 0) return batch;
  }
}

LoaderPosition DataLoader::position() const {
  if (epoch_end_pending_) return {consumed_ / batches_per_epoch_ - 1, batches_per_epoch_};
  return {consumed_ / batches_per_epoch_, consumed_ % batches_per_epoch_};
}

}  // namespace i2v
