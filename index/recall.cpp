#include "index/recall.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include "base/error.h"

namespace i2v {

GroupRecall same_group_recall(const KnnLists& knn, const std::vector<int64_t>& groups, const std::vector<int>& ks) {
  I2V_CHECK(int64_t(groups.size()) == knn.count, "recall: {} group ids for {} items", groups.size(), knn.count);
  for (int k : ks) I2V_CHECK(k >= 1 && k <= knn.k, "recall@{}: the lists hold {} neighbours", k, knn.k);
  std::unordered_map<int64_t, int64_t> group_size;
  for (int64_t g : groups)
    if (g >= 0) ++group_size[g];
  GroupRecall out;
  out.recall.assign(ks.size(), 0.0);
  for (int64_t i = 0; i < knn.count; ++i) {
    const int64_t g = groups[size_t(i)];
    if (g < 0 || group_size[g] < 2) continue;
    ++out.queries;
    const double relevant = double(group_size[g] - 1);
    for (size_t s = 0; s < ks.size(); ++s) {
      int hits = 0;
      for (int r = 0; r < ks[s]; ++r) hits += groups[size_t(knn.rows_of(i)[r])] == g;
      out.recall[s] += hits / relevant;
    }
  }
  I2V_CHECK(out.queries > 0, "recall: no item has another item of its group");
  for (double& r : out.recall) r /= double(out.queries);
  return out;
}

RecallReport evaluate_recall(CodeView codes, const std::vector<int64_t>& groups, const std::vector<int>& ks,
                             Device device, uint64_t seed) {
  I2V_CHECK(!ks.empty(), "recall: no k given");
  const int k_max = *std::max_element(ks.begin(), ks.end());
  const GroupRecall measured = same_group_recall(all_pairs_knn(codes, k_max, device), groups, ks);
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> random(size_t(codes.count) * size_t(codes.words));
  for (uint64_t& w : random) w = rng();
  const GroupRecall baseline =
      same_group_recall(all_pairs_knn({random.data(), codes.count, codes.words}, k_max, device), groups, ks);
  RecallReport report;
  report.queries = measured.queries;
  for (size_t s = 0; s < ks.size(); ++s) report.at.push_back({ks[s], measured.recall[s], baseline.recall[s]});
  return report;
}

}  // namespace i2v
