#include "data/split.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"
#include "base/file.h"
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

std::optional<Split> SplitRule::split_of(int64_t id) const {
  if (!listed.empty()) {
    const auto found = listed.find(id);
    if (found == listed.end()) return std::nullopt;
    return found->second;
  }
  if (modulus > 0) {
    const int64_t remainder = ((id % modulus) + modulus) % modulus;
    for (size_t s = 0; s < ranges.size(); ++s)
      for (const auto& [low, high] : ranges[s])
        if (remainder >= low && remainder <= high) return Split(s);
    return std::nullopt;
  }
  return split_of_id(id, fractions, salt);
}

std::string SplitRule::describe() const {
  if (!listed.empty()) {
    std::array<int64_t, 3> counts{};
    for (const auto& entry : listed) ++counts[size_t(entry.second)];
    return fmt::format("listed ids: train {}, val {}, test {}", counts[0], counts[1], counts[2]);
  }
  if (modulus > 0) {
    std::string text = fmt::format("id mod {}:", modulus);
    for (size_t s = 0; s < ranges.size(); ++s) {
      if (ranges[s].empty()) continue;
      std::vector<std::string> parts;
      for (const auto& [low, high] : ranges[s]) parts.push_back(fmt::format("{}-{}", low, high));
      text += fmt::format(" {} {}", split_name(Split(s)), fmt::join(parts, "+"));
    }
    return text;
  }
  return fmt::format("hash of the id (train {}, val {}, test {}, salt {})", fractions.train, fractions.val,
                     fractions.test, salt);
}

SplitRule split_rule_by_modulo(const std::string& text) {
  const auto fail = [&](const std::string& why) {
    I2V_THROW("split by modulo '{}': {} (e.g. 1000:train=0-899,val=950-999)", text, why);
  };
  SplitRule rule;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) fail("no MODULUS: before the ranges");
  char* end = nullptr;
  rule.modulus = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + colon || rule.modulus < 2) fail("the modulus is a whole number of at least 2");
  std::istringstream parts(text.substr(colon + 1));
  std::string part;
  while (std::getline(parts, part, ',')) {
    const size_t equals = part.find('=');
    if (equals == std::string::npos) fail(fmt::format("'{}' is not SPLIT=LOW-HIGH", part));
    const Split split = parse_split(part.substr(0, equals));
    if (!rule.ranges[size_t(split)].empty()) fail(fmt::format("{} is given twice", split_name(split)));
    std::istringstream spans(part.substr(equals + 1));
    std::string span;
    while (std::getline(spans, span, '+')) {
      long long low = 0, high = 0;
      char dash = 0;
      std::istringstream in(span);
      if (!(in >> low >> dash >> high) || dash != '-' || !(in >> std::ws).eof())
        fail(fmt::format("'{}' is not LOW-HIGH", span));
      if (low < 0 || low > high || high >= rule.modulus)
        fail(fmt::format("{}-{} is not a range within 0-{}", low, high, rule.modulus - 1));
      rule.ranges[size_t(split)].push_back({low, high});
    }
  }
  for (size_t a = 0; a < 3; ++a)
    for (size_t b = a; b < 3; ++b)
      for (size_t i = 0; i < rule.ranges[a].size(); ++i)
        for (size_t j = a == b ? i + 1 : 0; j < rule.ranges[b].size(); ++j) {
          const auto [low_a, high_a] = rule.ranges[a][i];
          const auto [low_b, high_b] = rule.ranges[b][j];
          if (low_a <= high_b && low_b <= high_a)
            fail(fmt::format("{} {}-{} and {} {}-{} overlap", split_name(Split(a)), low_a, high_a, split_name(Split(b)),
                             low_b, high_b));
        }
  if (rule.ranges[0].empty()) fail("no train range");
  return rule;
}

SplitRule split_rule_by_files(const std::array<std::string, 3>& files) {
  SplitRule rule;
  std::unordered_map<int64_t, std::string> where;
  for (size_t s = 0; s < files.size(); ++s) {
    if (files[s].empty()) continue;
    std::istringstream lines(read_file(files[s]));
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      const size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      std::istringstream in(line);
      long long id = 0;
      if ((in >> std::ws).eof()) continue;  // blank
      if (!(in >> id) || !(in >> std::ws).eof()) I2V_THROW("{} line {}: '{}' is not a post id", files[s], number, line);
      const std::string here = fmt::format("{} line {}", files[s], number);
      const auto [it, added] = where.emplace(id, here);
      I2V_CHECK(added, "id {} is listed twice: {} and {}", id, it->second, here);
      rule.listed.emplace(id, Split(s));
    }
  }
  I2V_CHECK(!rule.listed.empty(), "the split files list no id");
  return rule;
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
