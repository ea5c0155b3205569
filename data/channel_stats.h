// The per-channel mean and standard deviation of a training set, for mean subtraction.
//
// Measured on the pictures as the network sees them (after the preprocessing's resize and crop,
// before flips and normalisation), in RGB pixel values 0..255, and saved as JSON:
//   {"format": "i2v-channel-stats", "mean": [r, g, b], "std": [r, g, b], "images": N, "size": 224}
// Preprocess::use_stats() turns them into its mean (and std).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace i2v {

class Dataset;

struct ChannelStats {
  std::array<double, 3> mean{};  // RGB, 0..255
  std::array<double, 3> std{};
  int64_t images = 0;
  int size = 0;  // the side of the pictures they were measured on

  void save(const std::string& path) const;  // atomically
  static ChannelStats load(const std::string& path);
};

// Measures every sample of `dataset` (its geometry; center crops instead of random ones, no flip)
// with `workers` threads; unreadable samples are skipped (as in training) and must not be all.
ChannelStats compute_channel_stats(const Dataset& dataset, int workers);

}  // namespace i2v
