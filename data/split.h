// Train / validation / test splits that never change between runs or machines.
//
// Danbooru-style dumps: a post's split follows from its id alone, so it stays the same when the
// dump grows, when files are read in another order, and in every tool. By default from a hash of
// the id (and an optional salt); to use exactly the split another paper or model used, from id
// ranges modulo N (the WD taggers: train on ids whose last three digits are 000-899, validate on
// 950-999) or from files listing the ids of each split. Those two leave out the posts they place
// in no split.
// Image folders (few, small classes): each class is shuffled with a seed and cut by the
// fractions, so every split holds its share of every class (e.g. 64/16/20 train/val/test).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
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

// Which split a dump's post is in.
struct SplitRule {
  // By a hash (the default): split_of_id(id, fractions, salt).
  SplitFractions fractions;
  uint64_t salt = 0;
  // By id modulo `modulus` (when > 0): the split whose ranges (inclusive) hold the remainder.
  int64_t modulus = 0;
  std::array<std::vector<std::pair<int64_t, int64_t>>, 3> ranges;  // by Split
  // By files (when listed): the split each id was listed in.
  std::unordered_map<int64_t, Split> listed;

  // The post's split, or nothing when the rule places it in none (it is left out).
  std::optional<Split> split_of(int64_t id) const;
  // One line: "hash of the id (0.8, 0.1, 0.1)", "id mod 1000: train 0-899, val 950-999", ...
  std::string describe() const;
};

// "1000:train=0-899,val=950-999" (test optional; several ranges as train=0-499+600-899): ranges
// of id mod 1000, each within [0, modulus), no remainder in two splits. Throws naming the problem.
SplitRule split_rule_by_modulo(const std::string& text);

// Files of ids, one per line (blank lines and # comments skipped), for train, val and test (""
// for none). An id listed twice is refused, naming both places.
SplitRule split_rule_by_files(const std::array<std::string, 3>& files);

// For items with class labels: per class, a seeded shuffle, then the first round(n * train)
// items go to train, the next round(n * val) to val, the rest to test.
std::vector<Split> stratified_split(const std::vector<int64_t>& classes, const SplitFractions& fractions, uint64_t seed);

}  // namespace i2v
