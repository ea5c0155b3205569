#include "data/channel_stats.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/file.h"
#include "data/data_loader.h"

namespace i2v {

using nlohmann::json;

void ChannelStats::save(const std::string& path) const {
  const json document = {{"format", "i2v-channel-stats"}, {"order", "rgb"}, {"units", "pixel values 0..255"},
                         {"mean", mean}, {"std", std}, {"images", images}, {"size", size}};
  write_file_atomically(path, document.dump(2) + "\n");
}

ChannelStats ChannelStats::load(const std::string& path) {
  try {
    const json document = json::parse(read_file(path));
    I2V_CHECK(document.value("format", "") == "i2v-channel-stats", "not an i2v channel-stats file");
    ChannelStats stats;
    stats.mean = document.at("mean").get<std::array<double, 3>>();
    stats.std = document.at("std").get<std::array<double, 3>>();
    stats.images = document.value("images", int64_t(0));
    stats.size = document.value("size", 0);
    for (int c = 0; c < 3; ++c)
      I2V_CHECK(std::isfinite(stats.mean[size_t(c)]) && stats.std[size_t(c)] > 0, "channel {}: mean {} std {}", c,
                stats.mean[size_t(c)], stats.std[size_t(c)]);
    return stats;
  } catch (const Error& e) {
    I2V_THROW("channel stats {}: {}", path, e.message());
  } catch (const json::exception& e) {
    I2V_THROW("channel stats {}: {}", path, e.what());
  }
}

ChannelStats compute_channel_stats(const Dataset& dataset, int workers) {
  // The same pictures and geometry, as raw RGB pixel values.
  DatasetOptions options = dataset.options();
  Preprocess& raw = options.preprocess;
  if (raw.crop == CropMode::random) raw.crop = CropMode::center;
  raw.hflip = false;
  raw.order = ChannelOrder::rgb;
  raw.scale = 1.0f;
  raw.mean = {0, 0, 0};
  raw.std = {1, 1, 1};
  auto measured = std::make_shared<const Dataset>(dataset.contents(), dataset.split(), options);
  LoaderOptions loader_options;
  loader_options.batch_size = 16;
  loader_options.shuffle = false;
  loader_options.workers = workers;
  DataLoader loader(measured, loader_options);
  std::array<double, 3> sum{}, sum_squares{};
  ChannelStats stats;
  stats.size = raw.size;
  const size_t plane = size_t(raw.size) * size_t(raw.size);
  while (std::optional<Batch> batch = loader.next()) {
    const float* values = batch->images.data<float>();
    for (int64_t i = 0; i < batch->size(); ++i)
      for (size_t c = 0; c < 3; ++c) {
        const float* p = values + (size_t(i) * 3 + c) * plane;
        double s = 0, s2 = 0;
        for (size_t k = 0; k < plane; ++k) {
          s += p[k];
          s2 += double(p[k]) * p[k];
        }
        sum[c] += s;
        sum_squares[c] += s2;
      }
    stats.images += batch->size();
  }
  I2V_CHECK(stats.images > 0, "no readable picture to measure");
  const double count = double(stats.images) * double(plane);
  for (size_t c = 0; c < 3; ++c) {
    stats.mean[c] = sum[c] / count;
    stats.std[c] = std::sqrt(std::max(0.0, sum_squares[c] / count - stats.mean[c] * stats.mean[c]));
  }
  return stats;
}

}  // namespace i2v
