// Train / validation / test splits that never change between runs or machines.
//
// Danbooru-style dumps: a post's split follows from a hash of its id (and an optional salt), so
// it stays the same when the dump grows, when files are read in another order, and in every tool.
// Image folders (few, small classes): each class is shuffled with a seed and cut by the
// fractions, so every split holds its share of every class (e.g. 64/16/20 train/val/test).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace i2v {

enum class Split : uint8_t { train, val, test };
const char* split_name(Split split);  // "train", "val", "test"
Split parse_split(const std::string& name);

struct SplitFractions {
  double train = 0.8;
  double val = 0.1;
  double test = 0.1;
  // Each in [0, 1], summing to 1 (within 1e-6); throws otherwise.
  void check() const;
};

// "0.8,0.1,0.1" (train, val, test) -> fractions.
SplitFractions parse_split_fractions(const std::string& text);

Split split_of_id(int64_t id, const SplitFractions& fractions, uint64_t salt = 0);

// For items with class labels: per class, a seeded shuffle, then the first round(n * train)
// items go to train, the next round(n * val) to val, the rest to test.
std::vector<Split> stratified_split(const std::vector<int64_t>& classes, const SplitFractions& fractions, uint64_t seed);

}  // namespace i2v
