// Hamming k-NN over a store's codes, on any device: queries against a database, and all-pairs
// (every code's k nearest other codes) in blocks of queries with progress reports.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "index/code_store.h"
#include "kernels/device.h"

namespace i2v {

// For each of `count` queries, its k nearest database rows (nearest first, ties to the smaller
// row) and their Hamming distances.
struct KnnLists {
  int64_t count = 0;
  int k = 0;
  std::vector<int32_t> rows;       // [count][k]
  std::vector<int32_t> distances;  // [count][k]

  const int32_t* rows_of(int64_t query) const { return rows.data() + query * k; }
  const int32_t* distances_of(int64_t query) const { return distances.data() + query * k; }
};

// Called after each block of queries with how many are done and how many there are.
using ProgressCallback = std::function<void(int64_t done, int64_t total)>;

// The k nearest rows of `database` for each code of `queries` (same code length).
KnnLists knn(CodeView database, CodeView queries, int k, Device device);

// The k nearest other rows of every row of `database` (a row is never its own neighbour).
// Works in blocks of queries, so memory is O(N·k) besides the codes: never N × N.
KnnLists all_pairs_knn(CodeView database, int k, Device device, const ProgressCallback& progress = {});

}  // namespace i2v
