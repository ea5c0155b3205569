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
    : dataset_(std::move(dataset)), options_(options), start_(start) {
  I2V_CHECK(dataset_ != nullptr, "a data loader needs a dataset");
  I2V_CHECK(options_.batch_size > 0, "batch size must be positive, not {}", options_.batch_size);
  I2V_CHECK(options_.workers >= 0 && options_.workers <= 256, "workers must be in 0..256, not {}", options_.workers);
  I2V_CHECK(options_.prefetch >= 1, "prefetch must be at least 1, not {}", options_.prefetch);
  I2V_CHECK(options_.ranks >= 1 && options_.rank >= 0 && options_.rank < options_.ranks,
            "rank {} of {} ranks is out of range", options_.rank, options_.ranks);
  const int64_t n = dataset_->size();
  batches_per_epoch_ = batches_in(n);
  I2V_CHECK(batches_per_epoch_ > 0, "a dataset of {} samples gives no batch of {} (drop_last)", n, global_batch_size());
  I2V_CHECK(start.epoch >= 0 && start.sample >= 0 && start.sample <= n,
            "loader position epoch {} sample {} is out of range (epochs of {} samples)", start.epoch, start.sample, n);
  start_epoch_batches_ = batches_in(n - start.sample);
  epoch_end_pending_ = start_epoch_batches_ == 0;
  window_end_ = options_.prefetch;
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
  if (!options_.shuffle) return order;
  Rng rng(mix_seed(options_.seed, uint64_t(epoch)));
  if (order.empty() || dataset_->item(0).member_offset < 0) {
    shuffle(order.data(), int64_t(order.size()), rng);
    return order;
  }
  // Tar shards are read front to back (a file system serves that fast, random reads of millions
  // of small pictures slowly), as WebDataset does: the shards in a random order, each one's
  // samples in file order through a shuffle buffer of shuffle_buffer samples. The order is a
  // function of (seed, epoch), so a run resumes mid-epoch as with files.
  std::vector<std::pair<int64_t, int64_t>> shards;  // [begin, end) of the samples of each shard
  for (int64_t i = 0; i < int64_t(order.size()); ++i)
    if (i == 0 || dataset_->item(i).path != dataset_->item(i - 1).path) shards.push_back({i, i + 1});
    else shards.back().second = i + 1;
  shuffle(shards.data(), int64_t(shards.size()), rng);
  std::vector<int64_t> buffer;
  order.clear();
  for (const auto& [begin, end] : shards)
    for (int64_t i = begin; i < end; ++i) {
      if (int64_t(buffer.size()) < std::max<int64_t>(1, options_.shuffle_buffer)) {
        buffer.push_back(i);
        continue;
      }
      const size_t j = size_t(rng.below(uint64_t(buffer.size())));
      order.push_back(buffer[j]);
      buffer[j] = i;
    }
  while (!buffer.empty()) {
    const size_t j = size_t(rng.below(uint64_t(buffer.size())));
    order.push_back(buffer[j]);
    buffer[j] = buffer.back();
    buffer.pop_back();
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

int64_t DataLoader::batches_in(int64_t samples) const {
  const int64_t g = global_batch_size();
  return options_.drop_last ? samples / g : (samples + g - 1) / g;
}

DataLoader::Job DataLoader::job(int64_t j) const {
  const int64_t g = global_batch_size(), n = dataset_->size();
  Job out{};
  if (j < start_epoch_batches_) {  // the rest of the epoch the loader started in
    out.epoch = start_.epoch;
    out.begin = start_.sample + j * g;
    out.last_in_epoch = j == start_epoch_batches_ - 1;
  } else {
    const int64_t k = j - start_epoch_batches_;
    out.epoch = start_.epoch + 1 + k / batches_per_epoch_;
    out.begin = (k % batches_per_epoch_) * g;
    out.last_in_epoch = k % batches_per_epoch_ == batches_per_epoch_ - 1;
  }
  out.batch = out.begin / g;
  out.end = std::min(out.begin + g, n);
  return out;
}

Batch DataLoader::build(int64_t j) const {
  const Job span = job(j);
  Batch batch;
  batch.epoch = span.epoch;
  batch.batch = span.batch;
  batch.global_size = span.end - span.begin;
  const std::shared_ptr<const std::vector<int64_t>> order = order_of(batch.epoch);
  // This rank's slice of the global batch (empty when the last batch is too short to reach it).
  const int64_t begin = std::min(span.begin + options_.rank * options_.batch_size, span.end);
  const int64_t end = std::min(begin + options_.batch_size, span.end);
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
    int64_t j = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      room_.wait(lock, [&] { return stop_ || issued_ < window_end_; });
      if (stop_) return;
      j = issued_++;
    }
    Result result;
    try {
      result.batch = build(j);
    } catch (...) {
      result.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.emplace(j, std::move(result));
    }
    ready_.notify_all();
  }
}

Batch DataLoader::take() {
  const int64_t j = consumed_++;
  if (workers_.empty()) return build(j);
  Result result;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return results_.count(j) > 0; });
    result = std::move(results_.at(j));
    results_.erase(j);
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
      const int64_t epoch = consumed_ == 0 ? start_.epoch : job(consumed_ - 1).epoch;
      last_epoch_report_ = epoch_report_;
      epoch_report_.clear();
      if (last_epoch_report_.read() == 0 && last_epoch_report_.skipped() > 0)
        I2V_THROW("nothing in epoch {} was readable: {}", epoch,
                  last_epoch_report_.summary(fmt::format("epoch {}", epoch)));
      return std::nullopt;
    }
    const bool last_in_epoch = job(consumed_).last_in_epoch;
    Batch batch = take();
    epoch_report_.merge(batch.report);
    if (last_in_epoch) epoch_end_pending_ = true;
    if (batch.size() > 0 || options_.ranks > 1) return batch;
  }
}

LoaderPosition DataLoader::position() const {
  const int64_t n = dataset_->size();
  if (consumed_ == 0 && start_epoch_batches_ > 0) return start_;
  if (consumed_ == 0) return epoch_end_pending_ ? LoaderPosition{start_.epoch, n} : LoaderPosition{start_.epoch + 1, 0};
  const Job last = job(consumed_ - 1);
  if (!last.last_in_epoch) return {last.epoch, last.end};
  // The epoch's last batch: its end is pending until next() has returned nullopt.
  return epoch_end_pending_ ? LoaderPosition{last.epoch, n} : LoaderPosition{last.epoch + 1, 0};
}

}  // namespace i2v
