#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace i2v {

double average_precision(const std::vector<float>& scores, const std::vector<float>& labels) {
  I2V_CHECK(scores.size() == labels.size(), "average_precision: {} scores for {} labels", scores.size(), labels.size());
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  double positives = 0;
  for (float l : labels) positives += l > 0.5f;
  if (positives == 0) return std::numeric_limits<double>::quiet_NaN();
  double ap = 0, true_positives = 0, seen = 0, previous_recall = 0;
  for (size_t i = 0; i < order.size();) {
    // Every sample with this score enters at once.
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      true_positives += labels[order[j]] > 0.5f;
      ++seen;
      ++j;
    }
    const double recall = true_positives / positives;
    ap += (recall - previous_recall) * (true_positives / seen);
    previous_recall = recall;
    i = j;
  }
  return ap;
}

MeanAveragePrecision mean_average_precision(const std::vector<float>& scores, const std::vector<float>& labels,
                                            int64_t samples, int64_t tags, const std::vector<int64_t>& columns) {
  I2V_CHECK(int64_t(scores.size()) == samples * tags && scores.size() == labels.size(),
            "mean_average_precision: {} scores and {} labels for {} x {}", scores.size(), labels.size(), samples, tags);
  std::vector<int64_t> selected = columns;
  if (selected.empty()) {
    selected.resize(size_t(tags));
    std::iota(selected.begin(), selected.end(), 0);
  }
  MeanAveragePrecision result;
  double sum = 0;
  std::vector<float> column_scores(static_cast<size_t>(samples)), column_labels(column_scores);
  for (int64_t tag : selected) {
    I2V_CHECK(tag >= 0 && tag < tags, "mean_average_precision: column {} of {}", tag, tags);
    for (int64_t s = 0; s < samples; ++s) {
      column_scores[size_t(s)] = scores[size_t(s * tags + tag)];
      column_labels[size_t(s)] = labels[size_t(s * tags + tag)];
    }
    const double ap = average_precision(column_scores, column_labels);
    result.per_tag.push_back(ap);
    if (std::isnan(ap)) {
      ++result.tags_without_positives;
    } else {
      sum += ap;
      ++result.tags_evaluated;
    }
  }
  result.map = result.tags_evaluated ? sum / double(result.tags_evaluated) : std::numeric_limits<double>::quiet_NaN();
  return result;
}

MultiLabelScores multilabel_scores(const std::vector<float>& probabilities, const std::vector<float>& labels,
                                   int64_t samples, int64_t classes, double threshold) {
  I2V_CHECK(int64_t(probabilities.size()) == samples * classes && labels.size() == probabilities.size(),
            "multilabel_scores: sizes do not match {} x {}", samples, classes);
  std::vector<double> tp(static_cast<size_t>(classes)), predicted(tp), actual(tp);
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t c = 0; c < classes; ++c) {
      const bool p = probabilities[size_t(s * classes + c)] >= threshold;
      const bool t = labels[size_t(s * classes + c)] > 0.5f;
      tp[size_t(c)] += p && t;
      predicted[size_t(c)] += p;
      actual[size_t(c)] += t;
    }
  auto f1 = [](double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; };
  MultiLabelScores m;
  double all_tp = 0, all_predicted = 0, all_actual = 0;
  for (int64_t c = 0; c < classes; ++c) {
    m.cp += predicted[size_t(c)] > 0 ? tp[size_t(c)] / predicted[size_t(c)] : 0.0;
    m.cr += actual[size_t(c)] > 0 ? tp[size_t(c)] / actual[size_t(c)] : 0.0;
    all_tp += tp[size_t(c)];
    all_predicted += predicted[size_t(c)];
    all_actual += actual[size_t(c)];
  }
  m.cp /= double(classes);
  m.cr /= double(classes);
  m.cf1 = f1(m.cp, m.cr);
  m.op = all_predicted > 0 ? all_tp / all_predicted : 0.0;
  m.orecall = all_actual > 0 ? all_tp / all_actual : 0.0;
  m.of1 = f1(m.op, m.orecall);
  return m;
}

TopK top_k_accuracy(const std::vector<float>& scores, const std::vector<int64_t>& labels, int64_t samples,
                    int64_t classes, int k) {
  I2V_CHECK(int64_t(scores.size()) == samples * classes && int64_t(labels.size()) == samples,
            "top_k_accuracy: sizes do not match {} x {}", samples, classes);
  TopK result;
  std::vector<double> hits(static_cast<size_t>(classes)), counts(hits);
  double all_hits = 0;
  for (int64_t s = 0; s < samples; ++s) {
    const int64_t label = labels[size_t(s)];
    I2V_CHECK(label >= 0 && label < classes, "top_k_accuracy: label {} of sample {} is not a class", label, s);
    const float* row = &scores[size_t(s * classes)];
    // The label is in the top k when fewer than k classes rank above it.
    int64_t above = 0;
    for (int64_t c = 0; c < classes; ++c)
      above += row[c] > row[label] || (row[c] == row[label] && c < label);
    const bool hit = above < k;
    hits[size_t(label)] += hit;
    counts[size_t(label)] += 1;
    all_hits += hit;
  }
  result.overall = samples ? all_hits / double(samples) : std::numeric_limits<double>::quiet_NaN();
  for (int64_t c = 0; c < classes; ++c)
    result.per_class.push_back(counts[size_t(c)] ? hits[size_t(c)] / counts[size_t(c)]
                                                 : std::numeric_limits<double>::quiet_NaN());
  return result;
}

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<float>& scores, const std::vector<int64_t>& labels,
                                                   int64_t samples, int64_t classes) {
  I2V_CHECK(int64_t(scores.size()) == samples * classes && int64_t(labels.size()) == samples,
            "confusion_matrix: sizes do not match {} x {}", samples, classes);
  std::vector<std::vector<int64_t>> counts(size_t(classes), std::vector<int64_t>(size_t(classes), 0));
  for (int64_t s = 0; s < samples; ++s) {
    const float* row = &scores[size_t(s * classes)];
    const int64_t predicted = std::max_element(row, row + classes) - row;
    counts[size_t(labels[size_t(s)])][size_t(predicted)] += 1;
  }
  return counts;
}

}  // namespace i2v
