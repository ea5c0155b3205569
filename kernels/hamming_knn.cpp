// Hamming k-NN on the CPU (see hamming_knn.h and hamming_knn_cpu.h).
//
// Threads take chunks of 512 queries. A chunk is transposed into groups of 32 (hamming_knn_cpu.h)
// and swept over the database in tiles of ~256 KiB, which stay in L2 while all 16 groups of the
// chunk pass over them; each block of 6 rows is compared with a group by the block kernel, which
// returns the (query, row) pairs nearer than the query's current k-th neighbour. Those go into
// the query's sorted list. Rows reach each query in increasing order, so a candidate as far as
// the k-th (a tie) comes from a larger row and is rightly refused by the strict comparison.
#include "kernels/hamming_knn.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/hamming_knn_cpu.h"

namespace i2v {

void check_hamming_knn(const HammingKnnArgs& a) {
  I2V_CHECK(a.words > 0, "hamming_knn: codes of {} words", a.words);
  I2V_CHECK(a.query_count >= 0 && a.database_count > 0, "hamming_knn: {} queries against {} database rows",
            a.query_count, a.database_count);
  I2V_CHECK(a.database_count <= INT32_MAX, "hamming_knn: {} database rows; at most 2^31-1 are supported",
            a.database_count);
  I2V_CHECK(a.self_offset < 0 || a.self_offset + a.query_count <= a.database_count,
            "hamming_knn: queries {}..{} as database rows, but the database has {}", a.self_offset,
            a.self_offset + a.query_count - 1, a.database_count);
  const int64_t visible = a.database_count - (a.self_offset >= 0 ? 1 : 0);
  I2V_CHECK(a.k >= 1 && a.k <= visible, "hamming_knn: k = {}, but each query sees {} database rows", a.k, visible);
  I2V_CHECK(a.query_count == 0 || (a.queries && a.database && a.neighbours && a.distances),
            "hamming_knn: a null pointer");
}

}  // namespace i2v

namespace i2v::cpu {
namespace hamming {

#if defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
void block_portable(const uint64_t* group, const uint64_t* const* rows, int words, const uint64_t* thresholds,
                    uint32_t* masks, uint32_t (*distances)[kGroupQueries]) {
  for (int j = 0; j < kBlockRows; ++j) {
    uint32_t* acc = distances[j];
    std::fill(acc, acc + kGroupQueries, 0u);
    for (int w = 0; w < words; ++w) {
      const uint64_t row_word = rows[j][w];
      const uint64_t* query_words = group + w * kGroupQueries;
      for (int l = 0; l < kGroupQueries; ++l) acc[l] += uint32_t(__builtin_popcountll(query_words[l] ^ row_word));
    }
    uint32_t mask = 0;
    for (int l = 0; l < kGroupQueries; ++l) mask |= uint32_t(acc[l] < thresholds[l]) << l;
    masks[j] = mask;
  }
}

}  // namespace hamming

namespace {

using hamming::kBlockRows;
using hamming::kGroupQueries;

constexpr int64_t kChunkQueries = 512;
constexpr int64_t kTileBytes = int64_t(256) << 10;

// What one thread keeps for the chunk of queries it works on.
struct Chunk {
  std::vector<uint64_t> transposed;   // [groups][words][32]
  std::vector<uint64_t> thresholds;   // [groups * 32]: the k-th distance (0 for padding lanes)
  std::vector<int32_t> list_distances;  // [queries][k], sorted
  std::vector<int32_t> list_rows;
};

void run_chunk(hamming::BlockKernel block, const HammingKnnArgs& a, int64_t first, int64_t count, Chunk& c) {
  const int words = a.words, k = a.k;
  const int64_t groups = (count + kGroupQueries - 1) / kGroupQueries;
  c.transposed.assign(size_t(groups * words * kGroupQueries), 0);
  c.thresholds.assign(size_t(groups * kGroupQueries), 0);
  for (int64_t q = 0; q < count; ++q) {
    const uint64_t* code = a.queries + (first + q) * words;
    uint64_t* lane = c.transposed.data() + (q / kGroupQueries) * words * kGroupQueries + q % kGroupQueries;
    for (int w = 0; w < words; ++w) lane[w * kGroupQueries] = code[w];
    c.thresholds[size_t(q)] = uint64_t(kEmptyDistance);
  }
  c.list_distances.assign(size_t(count * k), kEmptyDistance);
  c.list_rows.assign(size_t(count * k), kEmptyRow);

  const int64_t tile_rows =
      std::max<int64_t>(kBlockRows, kTileBytes / (int64_t(words) * 8) / kBlockRows * kBlockRows);
  uint32_t masks[kBlockRows];
  uint32_t distances[kBlockRows][kGroupQueries];
  const uint64_t* rows[kBlockRows];
  for (int64_t tile = 0; tile < a.database_count; tile += tile_rows) {
    const int64_t tile_end = std::min(tile + tile_rows, a.database_count);
    for (int64_t g = 0; g < groups; ++g) {
      const uint64_t* group = c.transposed.data() + g * words * kGroupQueries;
      uint64_t* thresholds = c.thresholds.data() + g * kGroupQueries;
      for (int64_t r0 = tile; r0 < tile_end; r0 += kBlockRows) {
        const int valid_rows = int(std::min<int64_t>(kBlockRows, tile_end - r0));
        for (int j = 0; j < kBlockRows; ++j) rows[j] = a.database + (r0 + std::min(j, valid_rows - 1)) * words;
        block(group, rows, words, thresholds, masks, distances);
        for (int j = 0; j < valid_rows; ++j) {
          for (uint32_t m = masks[j]; m != 0; m &= m - 1) {
            const int l = __builtin_ctz(m);
            const int64_t q = g * kGroupQueries + l, row = r0 + j;
            if (a.self_offset >= 0 && row == a.self_offset + first + q) continue;
            int32_t* list_distances = c.list_distances.data() + q * k;
            int32_t* list_rows = c.list_rows.data() + q * k;
            if (insert_into_top_k(list_distances, list_rows, k, int32_t(distances[j][l]), int32_t(row)))
              thresholds[l] = uint64_t(list_distances[k - 1]);
          }
        }
      }
    }
  }
  std::copy(c.list_rows.begin(), c.list_rows.end(), a.neighbours + first * k);
  std::copy(c.list_distances.begin(), c.list_distances.end(), a.distances + first * k);
}

}  // namespace

bool avx512_popcount_supported() { return hamming::avx512_supported(); }

PopcountPath default_popcount_path() {
  const char* forced = std::getenv("I2V_POPCOUNT");
  if (forced && std::string(forced) == "portable") return PopcountPath::portable;
  return avx512_popcount_supported() ? PopcountPath::avx512 : PopcountPath::portable;
}

const char* popcount_path_name(PopcountPath path) {
  return path == PopcountPath::avx512 ? "avx512-vpopcntdq" : "portable-popcount";
}

void hamming_knn_using(PopcountPath path, const HammingKnnArgs& a) {
  check_hamming_knn(a);
  I2V_CHECK(path != PopcountPath::avx512 || avx512_popcount_supported(),
            "hamming_knn: this CPU has no AVX-512 VPOPCNTDQ; use the portable path");
  const hamming::BlockKernel block = path == PopcountPath::avx512 ? hamming::block_avx512 : hamming::block_portable;
  const int64_t chunks = (a.query_count + kChunkQueries - 1) / kChunkQueries;
#pragma omp parallel if (chunks > 1)
  {
    Chunk chunk;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t first = c * kChunkQueries;
      run_chunk(block, a, first, std::min(kChunkQueries, a.query_count - first), chunk);
    }
  }
}

void hamming_knn(const HammingKnnArgs& args) { hamming_knn_using(default_popcount_path(), args); }

}  // namespace i2v::cpu
