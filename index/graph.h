// The neighbour graph of semantic morphing (Illustration2Vec §4.4): a node per code; i and j are
// joined when either is among the other's k nearest (k = 5 in the paper), the edge weighted by
// their Hamming distance. Stored as an undirected graph in compressed rows (each edge in both
// directions), so it costs O(N·k) memory whatever N.
//
// On disk (little-endian): a 128-byte header (magic "I2VGRAPH", version, N, k, bits, edge
// entries, the CRC-32 of the codes it was built from, section offsets, the file size, a
// CRC-32 per section and of the header), then offsets (N + 1 int64), neighbours (int32) and
// weights (int32), each 64-byte aligned. Written atomically; loading checks everything,
// including that every edge has its reverse with the same weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/code_store.h"
#include "index/knn.h"
#include "kernels/device.h"

namespace i2v {

struct NeighbourGraph {
  int64_t node_count = 0;
  int k = 0;                    // the k of the top-k lists it was built from
  int bits = 0;                 // code length: weights are at most this
  uint32_t codes_checksum = 0;  // CRC-32 of the codes it was built from (CodeStore::codes_checksum)
  std::vector<int64_t> offsets;     // [node_count + 1]: node i's edges are [offsets[i], offsets[i+1])
  std::vector<int32_t> neighbours;  // sorted within each node
  std::vector<int32_t> weights;     // Hamming distances

  int64_t entries() const { return int64_t(neighbours.size()); }  // twice the undirected edges
  int64_t degree(int64_t node) const { return offsets[size_t(node + 1)] - offsets[size_t(node)]; }
};

// The union of the top-k lists as an undirected weighted graph.
NeighbourGraph graph_from_knn(const KnnLists& knn, int bits, uint32_t codes_checksum);

// All-pairs top-k of the store's codes on `device`, then graph_from_knn.
NeighbourGraph build_neighbour_graph(const CodeStore& store, int k, Device device, const ProgressCallback& progress = {});

// The connected component of each node, numbered 0, 1, ... in the order of their smallest node.
std::vector<int32_t> connected_components(const NeighbourGraph& graph);

void save_graph(const std::string& path, const NeighbourGraph& graph);
// Throws i2v::Error naming the file and the problem: truncation, bad magic, checksums, an
// inconsistent header, edges out of range, unsorted, or without their reverse.
NeighbourGraph load_graph(const std::string& path);

}  // namespace i2v
