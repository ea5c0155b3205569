// Top-1 and top-5 precision of classifiers on one test set, overall and per class: the form of
// Lagunas & Garces' Table 3 (one line per classifier) and Table 4 (one column pair per
// classifier, one line per class).
//
// As in the paper, a class's top-k precision is the share of its test pictures whose class is
// among the k highest scores (recall, in information-retrieval terms), and the overall ("global")
// top-k precision is that share over all test pictures (train/metrics.h, top_k_accuracy).
// Any score works: softmax probabilities, logits, SVM decision values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace i2v {

struct PrecisionRow {
  std::string name;  // "optimized + SVM"
  double top1 = 0, top5 = 0;
  std::vector<double> top1_per_class, top5_per_class;  // NaN for a class without a test picture
};

class PrecisionTable {
 public:
  PrecisionTable(std::vector<std::string> classes, std::vector<int64_t> labels);

  // Scores the classifier `name` from its scores ([pictures × classes], row-major, in the order
  // of the labels).
  void add(const std::string& name, const std::vector<float>& scores);

  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<PrecisionRow>& rows() const { return rows_; }
  const PrecisionRow& row(const std::string& name) const;
  // Test pictures per class.
  const std::vector<int64_t>& pictures_per_class() const { return pictures_; }

  // Table 3: classifier, top-1, top-5 (in %).
  std::string overall_text() const;
  // Table 4: class, pictures, then top-1 and top-5 of each classifier; the last line is "global".
  std::string per_class_text() const;
  // Precision as fractions (0..1); null for a class without a test picture.
  nlohmann::json to_json() const;
  std::string overall_csv() const;
  std::string per_class_csv() const;
  // `prefix`.json (to_json() with the fields of `extra` added), `prefix`.csv (Table 3) and
  // `prefix`.classes.csv (Table 4), written atomically.
  void save(const std::string& prefix, const nlohmann::json& extra = nlohmann::json::object()) const;

 private:
  std::vector<std::string> classes_;
  std::vector<int64_t> labels_;
  std::vector<int64_t> pictures_;
  std::vector<PrecisionRow> rows_;
};

}  // namespace i2v
