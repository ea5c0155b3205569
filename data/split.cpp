#include "data/split.h"

#include <cmath>
#include <map>
#include <sstream>

#include "base/error.h"
#include "base/enum_names.h"
#include "base/random.h"

namespace i2v {

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::val: return "val";
    case Split::test: return "test";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  return parse_enum(name, {Split::train, Split::val, Split::test}, split_name, "split");
}

void SplitFractions::check() const {
  for (double f : {train, val, test})
    I2V_CHECK(f >= 0 && f <= 1, "split fractions must lie in [0, 1]: train {} val {} test {}", train, val, test);
  I2V_CHECK(std::fabs(train + val + test - 1) < 1e-6, "split fractions must sum to 1: train {} + val {} + test {} = {}",
            train, val, test, train + val + test);
}

SplitFractions parse_split_fractions(const std::string& text) {
  std::istringstream in(text);
  SplitFractions fractions;
  char comma1 = 0, comma2 = 0;
  in >> fractions.train >> comma1 >> fractions.val >> comma2 >> fractions.test;
  I2V_CHECK(in && comma1 == ',' && comma2 == ',' && (in >> std::ws).eof(),
            "split fractions '{}' should read TRAIN,VAL,TEST (e.g. 0.8,0.1,0.1)", text);
  fractions.check();
  return fractions;
}

Split split_of_id(int64_t id, const SplitFractions& fractions, uint64_t salt) {
  const double u = double(mix_seed(salt, uint64_t(id)) >> 11) * 0x1.0p-53;
  if (u < fractions.train) return Split::train;
  if (u < fractions.train + fractions.val) return Split::val;
  return Split::test;
}

std::vector<Split> stratified_split(const std::vector<int64_t>& classes, const SplitFractions& fractions, uint64_t seed) {
  fractions.check();
  std::map<int64_t, std::vector<int64_t>> members;
  for (size_t i = 0; i < classes.size(); ++i) members[classes[i]].push_back(int64_t(i));
  std::vector<Split> splits(classes.size(), Split::test);
  for (auto& [label, items] : members) {
    Rng rng(mix_seed(seed, uint64_t(label)));
    shuffle(items.data(), int64_t(items.size()), rng);
    const auto n = double(items.size());
    const size_t train = size_t(std::llround(n * fractions.train));
    const size_t val = std::min(items.size() - train, size_t(std::llround(n * fractions.val)));
    for (size_t k = 0; k < train; ++k) splits[size_t(items[k])] = Split::train;
    for (size_t k = train; k < train + val; ++k) splits[size_t(items[k])] = Split::val;
  }
  return splits;
}

}  // namespace i2v
