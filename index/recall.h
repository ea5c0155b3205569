// Retrieval quality: recall@k of "the same item" (e.g. the same emoji drawn by another vendor)
// among each query's k nearest codes, against the same measure on random codes.
#pragma once

#include <cstdint>
#include <vector>

#include "index/code_store.h"
#include "index/knn.h"
#include "kernels/device.h"

namespace i2v {

struct RecallAtK {
  int k = 0;
  double recall = 0;         // of the codes given
  double random_recall = 0;  // of random codes of the same shape: the baseline
};

struct RecallReport {
  int64_t queries = 0;  // items with at least one other item in their group
  std::vector<RecallAtK> at;
};

struct GroupRecall {
  int64_t queries = 0;          // items with at least one other item in their group
  std::vector<double> recall;   // one per k
};

// For each item i whose group has other members R_i (group ids < 0 mean "no group"): the share
// of R_i among i's k nearest other items, |R_i ∩ top-k(i)| / |R_i|, averaged over those items,
// for each k in `ks` (each at most knn.k). With one counterpart per item it is the hit rate.
GroupRecall same_group_recall(const KnnLists& knn, const std::vector<int64_t>& groups, const std::vector<int>& ks);

// Computes the all-pairs k-NN of `codes` (k = the largest of `ks`) on `device`, then the recall,
// and the same on uniformly random codes (seeded) as the baseline.
RecallReport evaluate_recall(CodeView codes, const std::vector<int64_t>& groups, const std::vector<int>& ks,
                             Device device, uint64_t seed);

}  // namespace i2v
