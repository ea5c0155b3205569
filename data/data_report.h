// Skip-and-count: what a pass over a dataset read, what it skipped and why.
//
// A DataReport counts the samples that were read and, per DataProblem, the ones that were
// skipped, and keeps the first few skipped ones (where: "id 2921" or "posts.jsonl:17", and the
// reason). Metadata readers fill one when a dataset is opened; the DataLoader fills one per epoch.
// summary() is the printable text; to_json() the same as data.
//
// For a complete list (`--report FILE`), record_every_skipped() makes every DataReport of the
// process also record each skip, once per sample and problem, whatever its own limit; the
// command writes every_skipped() at its end, also when it fails.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/data_error.h"

namespace i2v {

struct DataProblemExample {
  DataProblem problem;
  std::string where;    // "id 2921", "metadata/posts.jsonl:17"
  std::string message;  // the reason, naming the file
};

class DataReport {
 public:
  static constexpr size_t kDefaultExamples = 5;
  explicit DataReport(size_t max_examples = kDefaultExamples) : max_examples_(max_examples) {}

  void add_read(int64_t samples = 1) { read_ += samples; }
  void add_skipped(DataProblem problem, const std::string& where, const std::string& message);
  void add_skipped(const DataError& error, const std::string& where) {
    add_skipped(error.problem(), where, error.message());
  }
  // Adds `other`'s counts, and its examples while there is room (so merging in a fixed order
  // keeps the first examples of that order).
  void merge(const DataReport& other);
  void clear();

  int64_t read() const { return read_; }
  int64_t skipped() const;
  int64_t skipped(DataProblem problem) const { return skipped_[size_t(problem)]; }
  const std::vector<DataProblemExample>& examples() const { return examples_; }

  // "<title>: 1,234 read, 5 skipped (missing file 2, truncated image 3)" and, when something was
  // skipped, one line per kept example.
  std::string summary(const std::string& title) const;
  // {"read": N, "skipped": N, "problems": {"missing_file": N, ...}, "examples": [...]}
  nlohmann::json to_json() const;

 private:
  size_t max_examples_;
  int64_t read_ = 0;
  std::array<int64_t, kDataProblemCount> skipped_{};
  std::vector<DataProblemExample> examples_;
};

// From now on, every add_skipped of every DataReport (any thread) is also recorded here.
void record_every_skipped();
// What was recorded, in the order first skipped, each (where, problem) once.
std::vector<DataProblemExample> every_skipped();
// every_skipped() as text: a header line, then "where<TAB>problem<TAB>reason" per sample.
std::string every_skipped_listing(const std::string& about);

}  // namespace i2v
