#include "data/data_report.h"

#include <atomic>
#include <mutex>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/progress.h"

namespace i2v {

const char* data_problem_name(DataProblem problem) {
  switch (problem) {
    case DataProblem::missing_file: return "missing file";
    case DataProblem::empty_file: return "empty file";
    case DataProblem::truncated_image: return "truncated image";
    case DataProblem::corrupt_image: return "corrupt image";
    case DataProblem::unsupported_format: return "unsupported format";
    case DataProblem::too_many_pixels: return "too many pixels";
    case DataProblem::malformed_json: return "malformed JSON";
    case DataProblem::unknown_rating: return "unknown rating";
    case DataProblem::unknown_category: return "unknown category";
    case DataProblem::broken_shard: return "broken shard";
    case DataProblem::incomplete_sample: return "incomplete sample";
  }
  return "?";
}

namespace {

// "missing file" -> "missing_file" (JSON keys).
std::string problem_key(DataProblem problem) {
  std::string key = data_problem_name(problem);
  for (char& c : key) c = c == ' ' ? '_' : char(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

}  // namespace

namespace {

struct SkipRecord {
  std::mutex mutex;
  std::atomic<bool> on{false};
  std::set<std::pair<std::string, int>> seen;
  std::vector<DataProblemExample> examples;
};

SkipRecord& skip_record() {
  static SkipRecord record;
  return record;
}

}  // namespace

void record_every_skipped() { skip_record().on = true; }

std::vector<DataProblemExample> every_skipped() {
  SkipRecord& record = skip_record();
  std::lock_guard<std::mutex> lock(record.mutex);
  return record.examples;
}

std::string every_skipped_listing(const std::string& about) {
  const std::vector<DataProblemExample> examples = every_skipped();
  std::string text = fmt::format("# {}: {} skipped; where, problem and reason, tab-separated\n", about,
                                 format_count(int64_t(examples.size())));
  for (const DataProblemExample& example : examples) {
    std::string message = example.message;
    for (char& c : message)
      if (c == '\t' || c == '\n') c = ' ';
    text += fmt::format("{}\t{}\t{}\n", example.where, data_problem_name(example.problem), message);
  }
  return text;
}

void DataReport::add_skipped(DataProblem problem, const std::string& where, const std::string& message) {
  SkipRecord& record = skip_record();
  if (record.on) {
    std::lock_guard<std::mutex> lock(record.mutex);
    if (record.seen.insert({where, int(problem)}).second) record.examples.push_back({problem, where, message});
  }
  ++skipped_[size_t(problem)];
  if (examples_.size() < max_examples_) examples_.push_back({problem, where, message});
}

void DataReport::merge(const DataReport& other) {
  read_ += other.read_;
  for (size_t i = 0; i < skipped_.size(); ++i) skipped_[i] += other.skipped_[i];
  for (const DataProblemExample& example : other.examples_) {
    if (examples_.size() >= max_examples_) break;
    examples_.push_back(example);
  }
}

void DataReport::clear() {
  read_ = 0;
  skipped_.fill(0);
  examples_.clear();
}

int64_t DataReport::skipped() const {
  int64_t total = 0;
  for (int64_t n : skipped_) total += n;
  return total;
}

std::string DataReport::summary(const std::string& title) const {
  std::string text = fmt::format("{}: {} read, {} skipped", title, format_count(read_), format_count(skipped()));
  if (skipped() == 0) return text + "\n";
  std::string counts;
  for (int p = 0; p < kDataProblemCount; ++p) {
    if (skipped_[size_t(p)] == 0) continue;
    if (!counts.empty()) counts += ", ";
    counts += fmt::format("{} {}", data_problem_name(DataProblem(p)), format_count(skipped_[size_t(p)]));
  }
  text += " (" + counts + ")\n";
  text += fmt::format("  first {} skipped:\n", examples_.size());
  for (const DataProblemExample& example : examples_)
    text += fmt::format("    {}: {}: {}\n", example.where, data_problem_name(example.problem), example.message);
  return text;
}

nlohmann::json DataReport::to_json() const {
  nlohmann::json problems = nlohmann::json::object();
  for (int p = 0; p < kDataProblemCount; ++p)
    if (skipped_[size_t(p)] > 0) problems[problem_key(DataProblem(p))] = skipped_[size_t(p)];
  nlohmann::json examples = nlohmann::json::array();
  for (const DataProblemExample& example : examples_)
    examples.push_back({{"problem", problem_key(example.problem)}, {"where", example.where}, {"message", example.message}});
  return {{"read", read_}, {"skipped", skipped()}, {"problems", problems}, {"examples", examples}};
}

}  // namespace i2v
