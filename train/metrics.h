// Evaluation metrics on host arrays of scores (any monotone score: logits or probabilities).
//
// Average precision (AP) of one tag is the area under its precision-recall curve as a step
// function over the distinct score thresholds (scikit-learn's average_precision_score):
//   AP = Σ_t (R_t − R_{t−1}) · P_t,
// where t runs over the distinct scores from high to low, and P_t, R_t count every sample
// scoring ≥ t. Samples with equal scores enter together, so the result does not depend on how
// ties are ordered. A tag with no positive sample has no AP: it is left out of the mean (and
// counted, so reports can say so).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace i2v {

// AP of one tag from per-sample scores and 0/1 labels; NaN when there is no positive label.
double average_precision(const std::vector<float>& scores, const std::vector<float>& labels);

struct MeanAveragePrecision {
  double map = 0;                // mean over the tags that have a positive
  std::vector<double> per_tag;   // NaN where the tag has no positive
  int64_t tags_evaluated = 0;
  int64_t tags_without_positives = 0;
};

// scores and labels are [samples × tags] row-major; `tags` selects the columns (all when empty).
MeanAveragePrecision mean_average_precision(const std::vector<float>& scores, const std::vector<float>& labels,
                                            int64_t samples, int64_t tags, const std::vector<int64_t>& columns = {});

// Multi-label precision/recall/F1 at a threshold (the ML-GCN paper's columns):
//   per class (C*): precision and recall of each class, averaged over classes, CF1 from CP, CR;
//   overall (O*):   precision and recall over all (sample, class) pairs, OF1 from OP, OR.
// A class with no predicted positive has precision 0; with no positive label, recall 0.
struct MultiLabelScores {
  double cp = 0, cr = 0, cf1 = 0, op = 0, orecall = 0, of1 = 0;
};
MultiLabelScores multilabel_scores(const std::vector<float>& probabilities, const std::vector<float>& labels,
                                   int64_t samples, int64_t classes, double threshold = 0.5);

// Single-label top-k: a sample counts when its label is among its k highest scores (ties
// broken by the smaller class index). Overall and per class (NaN for a class with no sample).
struct TopK {
  double overall = 0;
  std::vector<double> per_class;
};
TopK top_k_accuracy(const std::vector<float>& scores, const std::vector<int64_t>& labels, int64_t samples,
                    int64_t classes, int k);

// counts[true][predicted] of the arg-max predictions.
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<float>& scores, const std::vector<int64_t>& labels,
                                                   int64_t samples, int64_t classes);

}  // namespace i2v
