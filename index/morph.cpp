#include "index/morph.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <set>

#include "base/error.h"

namespace i2v {
namespace {

// Parts of the graph Yen's algorithm hides while it looks for a detour.
struct Removed {
  std::vector<char> nodes;                          // empty: none
  std::set<std::pair<int32_t, int32_t>> edges;      // directed (a, b)
};

void check_node(const NeighbourGraph& graph, int32_t node) {
  I2V_CHECK(node >= 0 && node < graph.node_count, "node {} is not in the graph ({} nodes)", node, graph.node_count);
}

std::optional<GraphPath> dijkstra(const NeighbourGraph& g, int32_t from, int32_t to, const Removed& removed) {
  constexpr int64_t kUnreached = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> distance(size_t(g.node_count), kUnreached);
  std::vector<int32_t> previous(size_t(g.node_count), -1);
  using Entry = std::pair<int64_t, int32_t>;  // (distance, node): ties pop the smaller node first
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  distance[size_t(from)] = 0;
  queue.push({0, from});
  while (!queue.empty()) {
    const auto [d, node] = queue.top();
    queue.pop();
    if (d != distance[size_t(node)]) continue;  // a stale entry
    if (node == to) break;
    for (int64_t e = g.offsets[size_t(node)]; e < g.offsets[size_t(node) + 1]; ++e) {
      const int32_t next = g.neighbours[size_t(e)];
      if (!removed.nodes.empty() && removed.nodes[size_t(next)]) continue;
      if (!removed.edges.empty() && removed.edges.count({node, next})) continue;
      const int64_t through = d + g.weights[size_t(e)];
      if (through < distance[size_t(next)]) {
        distance[size_t(next)] = through;
        previous[size_t(next)] = node;
        queue.push({through, next});
      }
    }
  }
  if (distance[size_t(to)] == kUnreached) return std::nullopt;
  GraphPath path;
  for (int32_t node = to; node != -1; node = previous[size_t(node)]) path.nodes.push_back(node);
  std::reverse(path.nodes.begin(), path.nodes.end());
  path.length = distance[size_t(to)];
  for (size_t i = 0; i + 1 < path.nodes.size(); ++i)
    path.steps.push_back(int32_t(distance[size_t(path.nodes[i + 1])] - distance[size_t(path.nodes[i])]));
  return path;
}

// The weight of the edge a - b (which exists).
int32_t edge_weight(const NeighbourGraph& g, int32_t a, int32_t b) {
  const auto first = g.neighbours.begin() + g.offsets[size_t(a)], last = g.neighbours.begin() + g.offsets[size_t(a) + 1];
  return g.weights[size_t(std::lower_bound(first, last, b) - g.neighbours.begin())];
}

bool shorter(const GraphPath& a, const GraphPath& b) {
  return a.length != b.length ? a.length < b.length : a.nodes < b.nodes;
}

}  // namespace

std::optional<GraphPath> shortest_path(const NeighbourGraph& graph, int32_t from, int32_t to) {
  check_node(graph, from);
  check_node(graph, to);
  return dijkstra(graph, from, to, Removed{});
}

std::vector<GraphPath> shortest_paths(const NeighbourGraph& graph, int32_t from, int32_t to, int count) {
  check_node(graph, from);
  check_node(graph, to);
  std::vector<GraphPath> found;
  std::optional<GraphPath> first = dijkstra(graph, from, to, Removed{});
  if (!first || count < 1) return found;
  found.push_back(*first);
  auto order = [](const GraphPath& a, const GraphPath& b) { return shorter(a, b); };
  std::set<GraphPath, decltype(order)> candidates(order);
  while (int(found.size()) < count) {
    const GraphPath& last = found.back();
    // A detour from each node of the last path: keep the path up to that node (the root), hide
    // the edges that the paths found so far take from the same root, and the root's other nodes.
    for (size_t i = 0; i + 1 < last.nodes.size(); ++i) {
      const std::vector<int32_t> root(last.nodes.begin(), last.nodes.begin() + long(i) + 1);
      Removed removed;
      removed.nodes.assign(size_t(graph.node_count), 0);
      for (size_t r = 0; r < i; ++r) removed.nodes[size_t(root[r])] = 1;
      for (const GraphPath& p : found) {
        if (p.nodes.size() > i + 1 && std::equal(root.begin(), root.end(), p.nodes.begin()))
          removed.edges.insert({p.nodes[i], p.nodes[i + 1]});
      }
      const std::optional<GraphPath> spur = dijkstra(graph, root.back(), to, removed);
      if (!spur) continue;
      GraphPath total;
      total.nodes = root;
      total.nodes.insert(total.nodes.end(), spur->nodes.begin() + 1, spur->nodes.end());
      for (size_t s = 0; s + 1 < total.nodes.size(); ++s)
        total.steps.push_back(edge_weight(graph, total.nodes[s], total.nodes[s + 1]));
      for (int32_t w : total.steps) total.length += w;
      candidates.insert(std::move(total));
    }
    if (candidates.empty()) break;
    found.push_back(*candidates.begin());
    candidates.erase(candidates.begin());
  }
  return found;
}

}  // namespace i2v
