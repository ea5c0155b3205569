#include "train/precision_table.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/error.h"
#include "base/atomic_file.h"
#include "train/metrics.h"

namespace i2v {
namespace {

std::string percent(double fraction) { return std::isnan(fraction) ? "-" : fmt::format("{:.2f}", 100 * fraction); }
nlohmann::json fraction_json(double fraction) { return std::isnan(fraction) ? nlohmann::json() : nlohmann::json(fraction); }
std::string fraction_csv(double fraction) { return std::isnan(fraction) ? "" : fmt::format("{:.6f}", fraction); }

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

size_t widest(const std::vector<std::string>& names, size_t at_least) {
  size_t width = at_least;
  for (const std::string& name : names) width = std::max(width, name.size());
  return width;
}

}  // namespace

PrecisionTable::PrecisionTable(std::vector<std::string> classes, std::vector<int64_t> labels)
    : classes_(std::move(classes)), labels_(std::move(labels)), pictures_(classes_.size(), 0) {
  I2V_CHECK(!labels_.empty(), "precision table: no test picture");
  for (int64_t label : labels_) {
    I2V_CHECK(label >= 0 && label < int64_t(classes_.size()), "precision table: label {} is not one of the {} classes",
              label, classes_.size());
    ++pictures_[size_t(label)];
  }
}

void PrecisionTable::add(const std::string& name, const std::vector<float>& scores) {
  const int64_t samples = int64_t(labels_.size()), classes = int64_t(classes_.size());
  I2V_CHECK(int64_t(scores.size()) == samples * classes, "{}: {} scores for {} test pictures x {} classes", name,
            scores.size(), samples, classes);
  const TopK top1 = top_k_accuracy(scores, labels_, samples, classes, 1);
  const TopK top5 = top_k_accuracy(scores, labels_, samples, classes, 5);
  rows_.push_back({name, top1.overall, top5.overall, top1.per_class, top5.per_class});
}

const PrecisionRow& PrecisionTable::row(const std::string& name) const {
  for (const PrecisionRow& r : rows_)
    if (r.name == name) return r;
  I2V_THROW("precision table: no row '{}'", name);
}

std::string PrecisionTable::overall_text() const {
  std::vector<std::string> names;
  for (const PrecisionRow& r : rows_) names.push_back(r.name);
  const size_t width = widest(names, 10);
  std::string text = fmt::format("{:<{}}  {:>7}  {:>7}\n", "classifier", width, "top-1", "top-5");
  for (const PrecisionRow& r : rows_) text += fmt::format("{:<{}}  {:>7}  {:>7}\n", r.name, width, percent(r.top1), percent(r.top5));
  return text + fmt::format("(precision in %, {} test pictures of {} classes)\n", labels_.size(), classes_.size());
}

std::string PrecisionTable::per_class_text() const {
  const size_t width = widest(classes_, 6);
  size_t column = 15;  // one classifier: "top-1  top-5"
  for (const PrecisionRow& r : rows_) column = std::max(column, r.name.size() + 2);
  std::string header = fmt::format("{:<{}}  {:>8}", "", width, ""), sub = fmt::format("{:<{}}  {:>8}", "class", width, "pictures");
  for (const PrecisionRow& r : rows_) {
    header += fmt::format("  {:^{}}", r.name, column);
    sub += fmt::format("  {:^{}}", "top-1   top-5", column);
  }
  std::string text = header + "\n" + sub + "\n";
  auto line = [&](const std::string& name, int64_t pictures, auto value_of) {
    text += fmt::format("{:<{}}  {:>8}", name, width, pictures);
    for (size_t i = 0; i < rows_.size(); ++i) {
      const auto [top1, top5] = value_of(rows_[i]);
      text += fmt::format("  {:^{}}", fmt::format("{:>6}  {:>6}", percent(top1), percent(top5)), column);
    }
    text += "\n";
  };
  for (size_t c = 0; c < classes_.size(); ++c)
    line(classes_[c], pictures_[c], [&](const PrecisionRow& r) { return std::pair(r.top1_per_class[c], r.top5_per_class[c]); });
  line("global", int64_t(labels_.size()), [](const PrecisionRow& r) { return std::pair(r.top1, r.top5); });
  return text + "(precision in %: the share of a class's test pictures whose class is the top 1 / among the top 5)\n";
}

nlohmann::json PrecisionTable::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const PrecisionRow& r : rows_) {
    nlohmann::json per_class = nlohmann::json::array();
    for (size_t c = 0; c < classes_.size(); ++c)
      per_class.push_back({{"class", classes_[c]}, {"pictures", pictures_[c]}, {"top1", fraction_json(r.top1_per_class[c])},
                           {"top5", fraction_json(r.top5_per_class[c])}});
    rows.push_back({{"classifier", r.name}, {"top1", fraction_json(r.top1)}, {"top5", fraction_json(r.top5)},
                    {"per_class", per_class}});
  }
  return {{"test_pictures", labels_.size()}, {"classes", classes_}, {"rows", rows},
          {"note", "precision as a fraction: the share of the (class's) test pictures whose class is the top 1 / among the top 5 scores"}};
}

std::string PrecisionTable::overall_csv() const {
  std::string csv = "classifier,top1,top5,test_pictures\n";
  for (const PrecisionRow& r : rows_)
    csv += fmt::format("{},{},{},{}\n", csv_field(r.name), fraction_csv(r.top1), fraction_csv(r.top5), labels_.size());
  return csv;
}

std::string PrecisionTable::per_class_csv() const {
  std::string csv = "class,pictures";
  for (const PrecisionRow& r : rows_) csv += "," + csv_field(r.name + " top1") + "," + csv_field(r.name + " top5");
  csv += "\n";
  for (size_t c = 0; c <= classes_.size(); ++c) {
    const bool global = c == classes_.size();
    csv += fmt::format("{},{}", csv_field(global ? "global" : classes_[c]), global ? int64_t(labels_.size()) : pictures_[c]);
    for (const PrecisionRow& r : rows_)
      csv += "," + fraction_csv(global ? r.top1 : r.top1_per_class[c]) + "," + fraction_csv(global ? r.top5 : r.top5_per_class[c]);
    csv += "\n";
  }
  return csv;
}

void PrecisionTable::save(const std::string& prefix, const nlohmann::json& extra) const {
  nlohmann::json json = to_json();
  for (const auto& [key, value] : extra.items()) json[key] = value;
  write_file_atomically(prefix + ".json", json.dump(2) + "\n");
  write_file_atomically(prefix + ".csv", overall_csv());
  write_file_atomically(prefix + ".classes.csv", per_class_csv());
}

}  // namespace i2v
