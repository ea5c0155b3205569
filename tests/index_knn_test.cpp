// Hamming k-NN against a brute-force reference: both CPU paths (portable and AVX-512 when the
// CPU has it), and the CUDA kernel on the sim device (and a GPU when present), for k = 1, 5,
// 32, code lengths of 1, 3 and 64 words, sizes that are not multiples of any tile, many ties,
// and all-pairs blocks that must skip each query itself.
#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/hamming_knn.h"
#include "tests/index_test_util.h"

namespace i2v {
namespace {

struct Result {
  std::vector<int32_t> rows, distances;
};

Result brute_force(const std::vector<uint64_t>& queries, int64_t query_count, const std::vector<uint64_t>& database,
                   int64_t database_count, int words, int k, int64_t self_offset) {
  Result r;
  for (int64_t q = 0; q < query_count; ++q) {
    std::vector<std::pair<int32_t, int32_t>> all;  // (distance, row): sorting gives the order we want
    for (int64_t row = 0; row < database_count; ++row) {
      if (self_offset >= 0 && row == self_offset + q) continue;
      int32_t d = 0;
      for (int w = 0; w < words; ++w)
        d += __builtin_popcountll(queries[size_t(q * words + w)] ^ database[size_t(row * words + w)]);
      all.emplace_back(d, int32_t(row));
    }
    std::sort(all.begin(), all.end());
    for (int i = 0; i < k; ++i) {
      r.distances.push_back(all[size_t(i)].first);
      r.rows.push_back(all[size_t(i)].second);
    }
  }
  return r;
}

// Codes drawn from a few distinct patterns with few bits set: many exact ties.
std::vector<uint64_t> tied_codes(int64_t count, int words, std::mt19937_64& rng) {
  std::vector<uint64_t> patterns = test::random_codes(7, words, rng);
  for (uint64_t& w : patterns) w &= rng() & rng() & rng();
  std::vector<uint64_t> codes;
  for (int64_t i = 0; i < count; ++i) {
    const size_t p = size_t(rng() % 7);
    codes.insert(codes.end(), patterns.begin() + p * words, patterns.begin() + (p + 1) * words);
  }
  return codes;
}

struct Case {
  int64_t queries, database;
  int words, k;
  bool ties;
  bool all_pairs;  // queries are database rows [database - queries - 3, ...) and skip themselves
};

std::string describe(const Case& c) {
  return fmt::format("{} queries x {} rows, {} words, k={}{}{}", c.queries, c.database, c.words, c.k,
                     c.ties ? ", ties" : "", c.all_pairs ? ", all-pairs block" : "");
}

// Runs `run(args)` with host or device buffers and compares with the brute force.
template <typename Run>
void check_case(const Case& c, Device device, std::mt19937_64& rng, Run run) {
  SCOPED_TRACE(describe(c));
  const std::vector<uint64_t> database =
      c.ties ? tied_codes(c.database, c.words, rng) : test::random_codes(c.database, c.words, rng);
  const int64_t self_offset = c.all_pairs ? c.database - c.queries - 3 : -1;
  const std::vector<uint64_t> queries =
      c.all_pairs ? std::vector<uint64_t>(database.begin() + self_offset * c.words,
                                          database.begin() + (self_offset + c.queries) * c.words)
                  : (c.ties ? tied_codes(c.queries, c.words, rng) : test::random_codes(c.queries, c.words, rng));
  const Result expected = brute_force(queries, c.queries, database, c.database, c.words, c.k, self_offset);

  const Tensor q = Tensor::from_vector(queries, {c.queries, c.words}, device);
  const Tensor db = Tensor::from_vector(database, {c.database, c.words}, device);
  Tensor rows = Tensor::empty({c.queries, c.k}, DType::i32, device);  // poisoned: -1 where unwritten
  Tensor distances = Tensor::empty({c.queries, c.k}, DType::i32, device);
  HammingKnnArgs args;
  args.queries = q.data<uint64_t>();
  args.query_count = c.queries;
  args.database = db.data<uint64_t>();
  args.database_count = c.database;
  args.words = c.words;
  args.k = c.k;
  args.self_offset = self_offset;
  args.neighbours = rows.data<int32_t>();
  args.distances = distances.data<int32_t>();
  run(args);
  EXPECT_EQ(distances.to_vector<int32_t>(), expected.distances);
  EXPECT_EQ(rows.to_vector<int32_t>(), expected.rows);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (int k : {1, 5, 32}) {
    for (int words : {1, 3, 64}) {
      all.push_back({1, 70, words, k, false, false});
      all.push_back({65, 50, words, k, true, false});     // one database tile: no split on a GPU
      all.push_back({130, 201, words, k, words != 3, false});
      all.push_back({40, 150, words, k, words == 3, true});
    }
  }
  return all;
}

TEST(HammingKnnCpu, BothPopcountPathsMatchBruteForce) {
  auto rng = test::test_rng();
  std::vector<cpu::PopcountPath> paths = {cpu::PopcountPath::portable};
  if (cpu::avx512_popcount_supported()) paths.push_back(cpu::PopcountPath::avx512);
  else std::printf("[ i2v    ] this CPU has no AVX-512 VPOPCNTDQ: only the portable path is tested\n");
  for (cpu::PopcountPath path : paths) {
    SCOPED_TRACE(cpu::popcount_path_name(path));
    for (const Case& c : cases()) check_case(c, Device::cpu(), rng, [&](const HammingKnnArgs& a) { cpu::hamming_knn_using(path, a); });
    // Several chunks of 512 queries, several tiles: the threads' work is independent.
    check_case({600, 700, 64, 5, false, true}, Device::cpu(), rng,
               [&](const HammingKnnArgs& a) { cpu::hamming_knn_using(path, a); });
    check_case({300, 5000, 2, 7, true, false}, Device::cpu(), rng,
               [&](const HammingKnnArgs& a) { cpu::hamming_knn_using(path, a); });
  }
}

TEST(HammingKnnCpu, RefusesMalformedProblems) {
  std::vector<uint64_t> codes(10, 1);
  std::vector<int32_t> out(100);
  HammingKnnArgs a;
  a.queries = a.database = codes.data();
  a.query_count = 2;
  a.database_count = 5;
  a.words = 2;
  a.k = 6;
  a.neighbours = a.distances = out.data();
  EXPECT_THROW(cpu::hamming_knn(a), Error);  // k > rows
  a.k = 5;
  a.self_offset = 0;
  EXPECT_THROW(cpu::hamming_knn(a), Error);  // a query cannot be its own neighbour: 4 rows left
  a.k = 4;
  EXPECT_NO_THROW(cpu::hamming_knn(a));
  a.self_offset = 4;
  EXPECT_THROW(cpu::hamming_knn(a), Error);  // query 1 would be row 5
  a.self_offset = -1;
  a.words = 0;
  EXPECT_THROW(cpu::hamming_knn(a), Error);
}

class HammingKnnGpu : public testing::TestWithParam<Device> {};

TEST_P(HammingKnnGpu, MatchesBruteForce) {
  const Device device = GetParam();
  auto rng = test::test_rng();
  for (const Case& c : cases())
    check_case(c, device, rng, [&](const HammingKnnArgs& a) { I2V_DISPATCH(device, hamming_knn, a); });
}

TEST_P(HammingKnnGpu, RefusesKAboveTheSharedMemoryLists) {
  const Device device = GetParam();
  auto rng = test::test_rng();
  EXPECT_THROW(check_case({3, 100, 1, kMaxGpuK + 1, false, false}, device, rng,
                          [&](const HammingKnnArgs& a) { I2V_DISPATCH(device, hamming_knn, a); }),
               Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, HammingKnnGpu, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
