// Exact Hamming k-nearest neighbours of binary codes.
//
// A code is `words` 64-bit words (B = 64·words bits); the distance of two codes is the number of
// bits in which they differ, popcount(a XOR b) summed over the words. For each query the kernel
// finds the k database rows nearest to it, nearest first, ties broken by the smaller row: the
// result is exact and does not depend on the device, the thread count or the tiling.
//
//   cpu   kernels/hamming_knn.cpp: threads over chunks of queries; the inner block (32 queries ×
//         6 rows) runs either on AVX-512 VPOPCNTDQ (kernels/hamming_knn_avx512.cpp) or on
//         portable 64-bit popcounts, chosen at run time;
//   sim, cuda   kernels/hamming_knn.cu: tiles of 64 queries × 64 rows in shared memory, each
//         query's top-k in shared memory, partial lists per database split merged at the end.
#pragma once

#include <climits>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

// One k-NN problem. Pointers are in the memory of the device that runs it.
struct HammingKnnArgs {
  const uint64_t* queries = nullptr;  // [query_count][words]
  int64_t query_count = 0;
  const uint64_t* database = nullptr;  // [database_count][words]
  int64_t database_count = 0;
  int words = 0;
  int k = 0;
  // When >= 0, query i is database row self_offset + i and is never its own neighbour (all-pairs
  // k-NN of a database, in blocks of queries).
  int64_t self_offset = -1;
  int32_t* neighbours = nullptr;  // [query_count][k] database rows, nearest first
  int32_t* distances = nullptr;   // [query_count][k]
};

// The largest k the GPU kernel keeps per query (its lists live in shared memory).
constexpr int kMaxGpuK = 64;

// Throws i2v::Error when the problem is malformed: sizes, k larger than the rows a query can
// see (database_count, one less with self_offset), self rows outside the database, more than
// 2^31-1 rows (results are int32).
void check_hamming_knn(const HammingKnnArgs& args);

// The order of results: by distance, then by row.
I2V_HD bool nearer(int32_t distance_a, int32_t row_a, int32_t distance_b, int32_t row_b) {
  return distance_a < distance_b || (distance_a == distance_b && row_a < row_b);
}

// An empty slot of a top-k list: farther than any candidate.
constexpr int32_t kEmptyDistance = INT_MAX;
constexpr int32_t kEmptyRow = INT_MAX;

// Puts (distance, row) into the sorted list of k entries (nearest first) if it is nearer than
// the last one, dropping the last; returns whether it went in.
I2V_HD bool insert_into_top_k(int32_t* list_distances, int32_t* list_rows, int k, int32_t distance, int32_t row) {
  int p = k - 1;
  if (!nearer(distance, row, list_distances[p], list_rows[p])) return false;
  while (p > 0 && nearer(distance, row, list_distances[p - 1], list_rows[p - 1])) {
    list_distances[p] = list_distances[p - 1];
    list_rows[p] = list_rows[p - 1];
    --p;
  }
  list_distances[p] = distance;
  list_rows[p] = row;
  return true;
}

}  // namespace i2v

I2V_DECLARE_KERNELS(void hamming_knn(const HammingKnnArgs& args);)

namespace i2v::cpu {

enum class PopcountPath { portable, avx512 };

// True when this CPU has AVX-512F and VPOPCNTDQ (and the build is for x86-64).
bool avx512_popcount_supported();
// AVX-512 where supported, unless the environment variable I2V_POPCOUNT=portable asks otherwise.
PopcountPath default_popcount_path();
const char* popcount_path_name(PopcountPath path);
// hamming_knn with a chosen inner loop (hamming_knn uses default_popcount_path()); throws when
// `path` is avx512 and the CPU lacks it.
void hamming_knn_using(PopcountPath path, const HammingKnnArgs& args);

}  // namespace i2v::cpu
