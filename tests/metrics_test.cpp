// Metrics against hand-computed values (and scikit-learn's definitions), ties included.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "train/metrics.h"

namespace i2v {
namespace {

TEST(AveragePrecision, HandComputed) {
  // Ranked: + - + -  => P at the positives: 1/1, 2/3; AP = 0.5·1 + 0.5·(2/3) = 5/6.
  EXPECT_NEAR(average_precision({0.9f, 0.8f, 0.7f, 0.1f}, {1, 0, 1, 0}), 5.0 / 6.0, 1e-12);
  // Perfect ranking.
  EXPECT_DOUBLE_EQ(average_precision({0.9f, 0.2f, 0.8f}, {1, 0, 1}), 1.0);
}

TEST(AveragePrecision, TiesEnterTogether) {
  // Two samples tie at 0.5, one positive: at that threshold P = 1/2 (whatever their order),
  // then the other positive at 0.4: R 1/2 -> 1, P = 2/3. AP = 0.5·0.5 + 0.5·(2/3) = 7/12.
  EXPECT_NEAR(average_precision({0.5f, 0.5f, 0.4f}, {1, 0, 1}), 7.0 / 12.0, 1e-12);
  EXPECT_NEAR(average_precision({0.5f, 0.5f, 0.4f}, {0, 1, 1}), 7.0 / 12.0, 1e-12);
}

TEST(MeanAveragePrecision, TagsWithoutPositivesAreLeftOutAndCounted) {
  // 3 samples x 3 tags: tag 0 AP 1, tag 1 no positives, tag 2 AP 0.5 (positive ranked second of two... )
  const std::vector<float> scores = {0.9f, 0.1f, 0.2f,  //
                                     0.1f, 0.2f, 0.9f,  //
                                     0.3f, 0.3f, 0.1f};
  const std::vector<float> labels = {1, 0, 1,  //
                                     0, 0, 0,  //
                                     0, 0, 0};
  const MeanAveragePrecision m = mean_average_precision(scores, labels, 3, 3);
  EXPECT_DOUBLE_EQ(m.per_tag[0], 1.0);
  EXPECT_TRUE(std::isnan(m.per_tag[1]));
  EXPECT_DOUBLE_EQ(m.per_tag[2], 0.5);  // ranked second: P = 1/2
  EXPECT_DOUBLE_EQ(m.map, 0.75);
  EXPECT_EQ(m.tags_evaluated, 2);
  EXPECT_EQ(m.tags_without_positives, 1);
  EXPECT_DOUBLE_EQ(mean_average_precision(scores, labels, 3, 3, {0}).map, 1.0);
}

TEST(MultiLabel, PerClassAndOverall) {
  // 2 samples x 2 classes; predictions at 0.5: [1 1; 0 1], labels [1 0; 1 1].
  const MultiLabelScores m = multilabel_scores({0.9f, 0.6f, 0.2f, 0.7f}, {1, 0, 1, 1}, 2, 2);
  // class 0: TP 1, pred 1, actual 2 -> P 1, R 0.5; class 1: TP 1, pred 2, actual 1 -> P 0.5, R 1.
  EXPECT_DOUBLE_EQ(m.cp, 0.75);
  EXPECT_DOUBLE_EQ(m.cr, 0.75);
  EXPECT_DOUBLE_EQ(m.cf1, 0.75);
  EXPECT_DOUBLE_EQ(m.op, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.orecall, 2.0 / 3.0);
  EXPECT_NEAR(m.of1, 2.0 / 3.0, 1e-12);
}

TEST(TopK, HandComputedWithTies) {
  // 3 samples x 3 classes.
  const std::vector<float> scores = {0.1f, 0.7f, 0.2f,   // label 2: ranked 2nd
                                     0.5f, 0.5f, 0.0f,   // label 1: tie with class 0, which ranks first
                                     0.3f, 0.3f, 0.4f};  // label 0: 2nd (tie broken by index)
  const std::vector<int64_t> labels = {2, 1, 0};
  const TopK top1 = top_k_accuracy(scores, labels, 3, 3, 1);
  EXPECT_DOUBLE_EQ(top1.overall, 0.0);
  const TopK top2 = top_k_accuracy(scores, labels, 3, 3, 2);
  EXPECT_DOUBLE_EQ(top2.overall, 1.0);
  EXPECT_DOUBLE_EQ(top2.per_class[2], 1.0);
  EXPECT_THROW(top_k_accuracy(scores, {0, 1, 5}, 3, 3, 1), Error);
}

TEST(ConfusionMatrix, CountsArgMax) {
  const auto m = confusion_matrix({0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f}, {0, 1, 1}, 3, 2);
  EXPECT_EQ(m[0][0], 1);
  EXPECT_EQ(m[1][1], 1);
  EXPECT_EQ(m[1][0], 1);
}

}  // namespace
}  // namespace i2v
