// Semantic morphing (Illustration2Vec §4.4): the shortest path between two images over the
// neighbour graph is a smooth transition from one to the other, each step a small change of
// semantic attributes. Dijkstra for the shortest; Yen's algorithm for the next shortest
// loopless alternatives.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "index/graph.h"

namespace i2v {

struct GraphPath {
  std::vector<int32_t> nodes;  // from .. to
  std::vector<int32_t> steps;  // steps[i]: the weight of nodes[i] -> nodes[i+1]
  int64_t length = 0;          // the sum of the steps
};

// The shortest path from `from` to `to`, or nothing when they are not connected. Among paths of
// equal length the result is deterministic (it depends only on the graph).
std::optional<GraphPath> shortest_path(const NeighbourGraph& graph, int32_t from, int32_t to);

// Up to `count` shortest loopless paths, shortest first (Yen's algorithm); empty when the two
// are not connected. Paths of equal length come in the order of their node sequences.
std::vector<GraphPath> shortest_paths(const NeighbourGraph& graph, int32_t from, int32_t to, int count);

}  // namespace i2v
