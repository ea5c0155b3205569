// The top-k graph (symmetry, weights, edges against brute force, save/load and damaged files),
// shortest paths against Floyd–Warshall and Yen's alternatives against an enumeration of all
// simple paths on small random graphs, and recall@k on synthetic codes.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "index/graph.h"
#include "index/morph.h"
#include "index/recall.h"
#include "base/error.h"
#include "tests/index_test_util.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {


int32_t hamming(const uint64_t* a, const uint64_t* b, int words) {
  int32_t d = 0;
  for (int w = 0; w < words; ++w) d += __builtin_popcountll(a[w] ^ b[w]);
  return d;
}

using test::expect_error;

// A graph from an undirected edge list.
NeighbourGraph graph_of(int64_t n, const std::map<std::pair<int32_t, int32_t>, int32_t>& edges, int bits = 64) {
  NeighbourGraph g;
  g.node_count = n;
  g.bits = bits;
  std::vector<std::vector<std::pair<int32_t, int32_t>>> adjacency(static_cast<size_t>(n));
  for (const auto& [e, w] : edges) {
    adjacency[size_t(e.first)].push_back({e.second, w});
    adjacency[size_t(e.second)].push_back({e.first, w});
  }
  g.offsets.push_back(0);
  for (auto& list : adjacency) {
    std::sort(list.begin(), list.end());
    for (const auto& [j, w] : list) {
      g.neighbours.push_back(j);
      g.weights.push_back(w);
    }
    g.offsets.push_back(g.entries());
  }
  return g;
}

// Random undirected edges on n nodes, weights 1..9.
std::map<std::pair<int32_t, int32_t>, int32_t> random_edges(int n, double density, std::mt19937_64& rng) {
  std::map<std::pair<int32_t, int32_t>, int32_t> edges;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b)
      if (double(rng() % 1000) < density * 1000) edges[{a, b}] = int32_t(1 + rng() % 9);
  return edges;
}

TEST(NeighbourGraph, IsTheSymmetricUnionOfTheTopKLists) {
  auto rng = test::test_rng();
  const int64_t n = 70;
  const int words = 2, k = 5;
  const std::vector<uint64_t> codes = test::random_codes(n, words, rng);
  const KnnLists knn = all_pairs_knn({codes.data(), n, words}, k, Device::cpu());
  const NeighbourGraph g = graph_from_knn(knn, 128, 42);
  std::set<std::pair<int32_t, int32_t>> expected;
  for (int64_t i = 0; i < n; ++i)
    for (int r = 0; r < k; ++r) {
      expected.insert({int32_t(i), knn.rows_of(i)[r]});
      expected.insert({knn.rows_of(i)[r], int32_t(i)});
    }
  std::set<std::pair<int32_t, int32_t>> got;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GE(g.degree(i), k);
    for (int64_t e = g.offsets[size_t(i)]; e < g.offsets[size_t(i + 1)]; ++e) {
      const int32_t j = g.neighbours[size_t(e)];
      got.insert({int32_t(i), j});
      EXPECT_EQ(g.weights[size_t(e)], hamming(&codes[size_t(i * words)], &codes[size_t(j * words)], words));
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(g.codes_checksum, 42u);

  // The same graph from the CUDA kernel on the sim device.
  const KnnLists on_sim = all_pairs_knn({codes.data(), n, words}, k, Device::sim());
  EXPECT_EQ(on_sim.rows, knn.rows);
  EXPECT_EQ(on_sim.distances, knn.distances);
}

class NeighbourGraphFile : public test::TempDirectoryTest {};

TEST_F(NeighbourGraphFile, SaveLoadAndDamagedFiles) {
  auto rng = test::test_rng();
  const std::vector<uint64_t> codes = test::random_codes(40, 1, rng);
  write_code_store(path("s"), code_source({codes.data(), 40, 1}));
  const CodeStore store = CodeStore::open(path("s"));
  std::vector<int64_t> reported;
  const NeighbourGraph g = build_neighbour_graph(store, 5, Device::cpu(), [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 40);
    reported.push_back(done);
  });
  EXPECT_EQ(reported.back(), 40);
  EXPECT_EQ(g.codes_checksum, store.codes_checksum());
  save_graph(path("g"), g);
  const NeighbourGraph back = load_graph(path("g"));
  EXPECT_EQ(back.node_count, g.node_count);
  EXPECT_EQ(back.k, 5);
  EXPECT_EQ(back.bits, 64);
  EXPECT_EQ(back.codes_checksum, g.codes_checksum);
  EXPECT_EQ(back.offsets, g.offsets);
  EXPECT_EQ(back.neighbours, g.neighbours);
  EXPECT_EQ(back.weights, g.weights);

  std::ifstream in(path("g"), std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto refused = [&](std::string damaged, const std::string& fragment) {
    std::ofstream(path("bad"), std::ios::binary | std::ios::trunc) << damaged;
    expect_error([&] { load_graph(path("bad")); }, fragment);
  };
  for (size_t keep : {size_t(0), size_t(60), size_t(128), size_t(500), bytes.size() - 1}) refused(bytes.substr(0, keep), "truncated");
  refused("GRAPH???" + bytes.substr(8), "bad magic");
  std::string flipped = bytes;
  flipped[20] ^= 1;
  refused(flipped, "header checksum");
  flipped = bytes;
  flipped[bytes.size() - 5] ^= 1;
  refused(flipped, "checksum mismatch in the edges");
  refused(bytes + "x", "data after the end");

  NeighbourGraph one_way = graph_of(3, {{{0, 1}, 4}, {{1, 2}, 3}});
  one_way.weights[0] = 5;  // 0 -> 1 weighs 5, 1 -> 0 weighs 4
  expect_error([&] { save_graph(path("asym"), one_way); }, "no reverse of the same weight");
  EXPECT_FALSE(std::filesystem::exists(path("asym")));
}

TEST(ShortestPath, MatchesFloydWarshallOnRandomGraphs) {
  auto rng = test::test_rng();
  for (int trial = 0; trial < 30; ++trial) {
    const int n = 3 + int(rng() % 12);
    const auto edges = random_edges(n, 0.3, rng);
    const NeighbourGraph g = graph_of(n, edges);
    constexpr int64_t kInf = 1 << 30;
    std::vector<std::vector<int64_t>> d(size_t(n), std::vector<int64_t>(size_t(n), kInf));
    for (int i = 0; i < n; ++i) d[size_t(i)][size_t(i)] = 0;
    for (const auto& [e, w] : edges) d[size_t(e.first)][size_t(e.second)] = d[size_t(e.second)][size_t(e.first)] = w;
    for (int m = 0; m < n; ++m)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) d[size_t(i)][size_t(j)] = std::min(d[size_t(i)][size_t(j)], d[size_t(i)][size_t(m)] + d[size_t(m)][size_t(j)]);
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        const std::optional<GraphPath> p = shortest_path(g, a, b);
        if (d[size_t(a)][size_t(b)] == kInf) {
          EXPECT_FALSE(p.has_value()) << a << " -> " << b << " are not connected";
          continue;
        }
        ASSERT_TRUE(p.has_value()) << a << " -> " << b;
        EXPECT_EQ(p->length, d[size_t(a)][size_t(b)]);
        ASSERT_EQ(p->nodes.front(), a);
        ASSERT_EQ(p->nodes.back(), b);
        ASSERT_EQ(p->steps.size() + 1, p->nodes.size());
        int64_t sum = 0;
        for (size_t s = 0; s < p->steps.size(); ++s) {
          const auto e = std::minmax(p->nodes[s], p->nodes[s + 1]);
          ASSERT_TRUE(edges.count({e.first, e.second})) << "a step along a missing edge";
          EXPECT_EQ(p->steps[s], edges.at({e.first, e.second}));
          sum += p->steps[s];
        }
        EXPECT_EQ(sum, p->length);
      }
    }
  }
}

TEST(ShortestPath, DisconnectedAndOutOfRange) {
  const NeighbourGraph g = graph_of(6, {{{0, 1}, 2}, {{1, 2}, 2}, {{3, 4}, 1}});
  EXPECT_EQ(connected_components(g), (std::vector<int32_t>{0, 0, 0, 1, 1, 2}));
  EXPECT_FALSE(shortest_path(g, 0, 4).has_value());
  EXPECT_TRUE(shortest_paths(g, 0, 4, 3).empty());
  EXPECT_EQ(shortest_path(g, 2, 2)->nodes, (std::vector<int32_t>{2}));
  EXPECT_FALSE(shortest_path(g, 0, 5).has_value());
  EXPECT_THROW(shortest_path(g, 0, 6), Error);
  EXPECT_THROW(shortest_path(g, -1, 0), Error);
}

TEST(ShortestPath, YenMatchesAllSimplePathsEnumerated) {
  auto rng = test::test_rng();
  for (int trial = 0; trial < 25; ++trial) {
    const int n = 4 + int(rng() % 5);
    const auto edges = random_edges(n, 0.55, rng);
    const NeighbourGraph g = graph_of(n, edges);
    const int32_t from = 0, to = int32_t(n - 1);
    std::vector<int64_t> lengths;  // of every simple path from -> to
    std::vector<int32_t> stack = {from};
    std::vector<char> on_path(size_t(n), 0);
    on_path[size_t(from)] = 1;
    std::function<void(int64_t)> walk = [&](int64_t length) {
      const int32_t node = stack.back();
      if (node == to) {
        lengths.push_back(length);
        return;
      }
      for (int64_t e = g.offsets[size_t(node)]; e < g.offsets[size_t(node) + 1]; ++e) {
        const int32_t next = g.neighbours[size_t(e)];
        if (on_path[size_t(next)]) continue;
        on_path[size_t(next)] = 1;
        stack.push_back(next);
        walk(length + g.weights[size_t(e)]);
        stack.pop_back();
        on_path[size_t(next)] = 0;
      }
    };
    walk(0);
    std::sort(lengths.begin(), lengths.end());
    const int count = 6;
    const std::vector<GraphPath> paths = shortest_paths(g, from, to, count);
    ASSERT_EQ(paths.size(), std::min<size_t>(size_t(count), lengths.size()));
    std::set<std::vector<int32_t>> distinct;
    for (size_t i = 0; i < paths.size(); ++i) {
      EXPECT_EQ(paths[i].length, lengths[i]) << "path " << i;
      EXPECT_EQ(std::set<int32_t>(paths[i].nodes.begin(), paths[i].nodes.end()).size(), paths[i].nodes.size())
          << "a path with a loop";
      distinct.insert(paths[i].nodes);
    }
    EXPECT_EQ(distinct.size(), paths.size());
  }
}

TEST(Recall, CountsTheGroupAmongTheNearest) {
  KnnLists knn;
  knn.count = 4;
  knn.k = 2;
  knn.rows = {1, 2, 3, 0, 0, 1, 0, 1};
  knn.distances = {1, 2, 1, 2, 1, 2, 1, 2};
  // Groups {0, 1} and {2, 3}: item 0 finds 1 first; 1 finds 0 second; 2 finds neither; 3 none.
  const GroupRecall r = same_group_recall(knn, {7, 7, 9, 9}, {1, 2});
  EXPECT_EQ(r.queries, 4);
  EXPECT_DOUBLE_EQ(r.recall[0], 0.25);
  EXPECT_DOUBLE_EQ(r.recall[1], 0.5);
  EXPECT_THROW(same_group_recall(knn, {7, 7, 9, 9}, {3}), Error);
  EXPECT_THROW(same_group_recall(knn, {1, 2, 3, -1}, {1}), Error);  // nobody has a partner
}

TEST(Recall, NearDuplicatePairsBeatRandomCodes) {
  auto rng = test::test_rng();
  const int64_t pairs = 150;
  const int words = 4;
  // Item 2p and 2p+1 are the same "emoji" from two vendors: 256-bit codes 20 bits apart.
  std::vector<uint64_t> codes = test::random_codes(2 * pairs, words, rng);
  std::vector<int64_t> groups;
  for (int64_t p = 0; p < pairs; ++p) {
    uint64_t* twin = &codes[size_t((2 * p + 1) * words)];
    std::copy_n(&codes[size_t(2 * p * words)], words, twin);
    for (int flip = 0; flip < 20; ++flip) twin[rng() % words] ^= uint64_t(1) << (rng() % 64);
    groups.push_back(p);
    groups.push_back(p);
  }
  const RecallReport report = evaluate_recall({codes.data(), 2 * pairs, words}, groups, {1, 5, 10}, Device::cpu(), 3);
  EXPECT_EQ(report.queries, 2 * pairs);
  ASSERT_EQ(report.at.size(), 3u);
  for (const RecallAtK& r : report.at) {
    EXPECT_DOUBLE_EQ(r.recall, 1.0) << "recall@" << r.k;
    EXPECT_LT(r.random_recall, 0.2) << "recall@" << r.k << " of random codes (expected about k/N)";
  }
}

}  // namespace
}  // namespace i2v
