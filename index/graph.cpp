#include "index/graph.h"

#include <algorithm>
#include <cstring>

#include "base/atomic_file.h"
#include "base/crc32.h"
#include "base/error.h"
#include "base/file.h"
#include "index/binary_file.h"

namespace i2v {
namespace {

constexpr char kMagic[8] = {'I', '2', 'V', 'G', 'R', 'A', 'P', 'H'};
constexpr uint32_t kVersion = 1;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t node_count;
  uint32_t k;
  uint32_t bits;
  uint64_t entries;
  uint32_t codes_crc32;  // of the store's codes it was built from
  uint32_t reserved0;
  uint64_t offsets_offset;
  uint64_t neighbours_offset;
  uint64_t weights_offset;
  uint64_t file_bytes;
  uint32_t offsets_crc32;
  uint32_t neighbours_crc32;
  uint32_t weights_crc32;
  uint32_t reserved[8];
  uint32_t header_crc32;  // of every byte before it
};
static_assert(sizeof(Header) == 128, "the on-disk header is 128 bytes");

struct Layout {
  uint64_t offsets_offset, neighbours_offset, weights_offset, file_bytes;
};

Layout layout_for(uint64_t node_count, uint64_t entries) {
  Layout l;
  l.offsets_offset = sizeof(Header);
  l.neighbours_offset = align64(l.offsets_offset + (node_count + 1) * 8);
  l.weights_offset = align64(l.neighbours_offset + entries * 4);
  l.file_bytes = l.weights_offset + entries * 4;
  return l;
}

// Checks the contents of a graph: sizes, ranges, order, and that every edge has its reverse.
void validate(const NeighbourGraph& g, const std::string& path) {
  const int64_t n = g.node_count;
  I2V_CHECK(int64_t(g.offsets.size()) == n + 1 && g.offsets[0] == 0 && g.offsets[size_t(n)] == g.entries() &&
                g.weights.size() == g.neighbours.size(),
            "{}: inconsistent graph: {} nodes, {} offsets, {} edge entries", path, n, g.offsets.size(), g.entries());
  for (int64_t i = 0; i < n; ++i)
    I2V_CHECK(g.offsets[size_t(i)] <= g.offsets[size_t(i + 1)], "{}: node {}: offsets decrease", path, i);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t begin = g.offsets[size_t(i)], end = g.offsets[size_t(i + 1)];
    for (int64_t e = begin; e < end; ++e) {
      const int32_t j = g.neighbours[size_t(e)], w = g.weights[size_t(e)];
      I2V_CHECK(j >= 0 && j < n && j != i, "{}: node {} has an edge to {} (of {} nodes)", path, i, j, n);
      I2V_CHECK(e == begin || j > g.neighbours[size_t(e - 1)], "{}: node {}: neighbours not sorted or repeated", path,
                i);
      I2V_CHECK(w >= 0 && w <= g.bits, "{}: edge {}-{} weighs {} (codes of {} bits)", path, i, j, w, g.bits);
      const auto first = g.neighbours.begin() + g.offsets[size_t(j)], last = g.neighbours.begin() + g.offsets[size_t(j + 1)];
      const auto back = std::lower_bound(first, last, int32_t(i));
      I2V_CHECK(back != last && *back == i && g.weights[size_t(back - g.neighbours.begin())] == w,
                "{}: edge {}-{} has no reverse of the same weight", path, i, j);
    }
  }
}

}  // namespace

NeighbourGraph graph_from_knn(const KnnLists& knn, int bits, uint32_t codes_checksum) {
  NeighbourGraph g;
  g.node_count = knn.count;
  g.k = knn.k;
  g.bits = bits;
  g.codes_checksum = codes_checksum;
  // Every list entry i -> j gives an entry at i and one at j; counted, placed, then each node's
  // entries are sorted and the edges found from both ends kept once.
  std::vector<int64_t> fill(size_t(knn.count) + 1, 0);
  for (int64_t i = 0; i < knn.count; ++i) {
    fill[size_t(i) + 1] += knn.k;
    for (int r = 0; r < knn.k; ++r) ++fill[size_t(knn.rows_of(i)[r]) + 1];
  }
  for (size_t i = 1; i < fill.size(); ++i) fill[i] += fill[i - 1];
  std::vector<std::pair<int32_t, int32_t>> entries(size_t(fill.back()));  // (neighbour, weight)
  std::vector<int64_t> next(fill.begin(), fill.end() - 1);
  for (int64_t i = 0; i < knn.count; ++i) {
    for (int r = 0; r < knn.k; ++r) {
      const int32_t j = knn.rows_of(i)[r], w = knn.distances_of(i)[r];
      entries[size_t(next[size_t(i)]++)] = {j, w};
      entries[size_t(next[size_t(j)]++)] = {int32_t(i), w};
    }
  }
  g.offsets.assign(size_t(knn.count) + 1, 0);
  g.neighbours.reserve(entries.size());
  g.weights.reserve(entries.size());
  for (int64_t i = 0; i < knn.count; ++i) {
    const auto begin = entries.begin() + fill[size_t(i)], end = entries.begin() + fill[size_t(i) + 1];
    std::sort(begin, end);
    for (auto e = begin; e != end; ++e) {
      if (e != begin && e->first == (e - 1)->first) continue;
      g.neighbours.push_back(e->first);
      g.weights.push_back(e->second);
    }
    g.offsets[size_t(i) + 1] = g.entries();
  }
  return g;
}

NeighbourGraph build_neighbour_graph(const CodeStore& store, int k, Device device, const ProgressCallback& progress) {
  const KnnLists knn = all_pairs_knn(store.codes(), k, device, progress);
  return graph_from_knn(knn, store.bits(), store.codes_checksum());
}

std::vector<int32_t> connected_components(const NeighbourGraph& g) {
  std::vector<int32_t> component(size_t(g.node_count), -1);
  std::vector<int32_t> stack;
  int32_t next = 0;
  for (int64_t start = 0; start < g.node_count; ++start) {
    if (component[size_t(start)] >= 0) continue;
    component[size_t(start)] = next;
    stack.push_back(int32_t(start));
    while (!stack.empty()) {
      const int32_t node = stack.back();
      stack.pop_back();
      for (int64_t e = g.offsets[size_t(node)]; e < g.offsets[size_t(node) + 1]; ++e) {
        const int32_t j = g.neighbours[size_t(e)];
        if (component[size_t(j)] < 0) {
          component[size_t(j)] = next;
          stack.push_back(j);
        }
      }
    }
    ++next;
  }
  return component;
}

void save_graph(const std::string& path, const NeighbourGraph& g) {
  validate(g, path);
  const Layout layout = layout_for(uint64_t(g.node_count), uint64_t(g.entries()));
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.header_bytes = sizeof(Header);
  h.node_count = uint64_t(g.node_count);
  h.k = uint32_t(g.k);
  h.bits = uint32_t(g.bits);
  h.entries = uint64_t(g.entries());
  h.codes_crc32 = g.codes_checksum;
  h.offsets_offset = layout.offsets_offset;
  h.neighbours_offset = layout.neighbours_offset;
  h.weights_offset = layout.weights_offset;
  h.file_bytes = layout.file_bytes;
  h.offsets_crc32 = crc32_of(g.offsets.data(), g.offsets.size() * 8);
  h.neighbours_crc32 = crc32_of(g.neighbours.data(), g.neighbours.size() * 4);
  h.weights_crc32 = crc32_of(g.weights.data(), g.weights.size() * 4);
  seal_index_header(&h);
  write_file_atomically(path, [&](File& file) {
    const char zeros[64] = {};
    file.write_all(&h, sizeof h);
    file.write_all(g.offsets.data(), g.offsets.size() * 8);
    file.write_all(zeros, layout.neighbours_offset - (layout.offsets_offset + g.offsets.size() * 8));
    file.write_all(g.neighbours.data(), g.neighbours.size() * 4);
    file.write_all(zeros, layout.weights_offset - (layout.neighbours_offset + g.neighbours.size() * 4));
    file.write_all(g.weights.data(), g.weights.size() * 4);
  });
}

NeighbourGraph load_graph(const std::string& path) {
  const std::string bytes = read_file(path);
  Header h{};
  std::memcpy(&h, bytes.data(), std::min(bytes.size(), sizeof h));
  check_index_header(&h, bytes.size(), kMagic, kVersion, path, "graph", "build one with `i2v index graph`");
  I2V_CHECK(h.node_count >= 1 && h.node_count <= INT32_MAX && h.entries <= (uint64_t(1) << 40),
            "{}: inconsistent header: {} nodes, {} edge entries", path, h.node_count, h.entries);
  const Layout expected = layout_for(h.node_count, h.entries);
  I2V_CHECK(h.header_bytes == sizeof h && h.offsets_offset == expected.offsets_offset &&
                h.neighbours_offset == expected.neighbours_offset && h.weights_offset == expected.weights_offset &&
                h.file_bytes == expected.file_bytes,
            "{}: inconsistent header: {} nodes and {} edge entries make a file of {} bytes, the header says {}", path,
            h.node_count, h.entries, expected.file_bytes, h.file_bytes);
  check_index_file_size(bytes.size(), h.file_bytes, path);
  const char* base = bytes.data();
  I2V_CHECK(crc32_of(base + h.offsets_offset, (h.node_count + 1) * 8) == h.offsets_crc32 &&
                crc32_of(base + h.neighbours_offset, h.entries * 4) == h.neighbours_crc32 &&
                crc32_of(base + h.weights_offset, h.entries * 4) == h.weights_crc32,
            "{}: checksum mismatch in the edges (the file is corrupted)", path);
  NeighbourGraph g;
  g.node_count = int64_t(h.node_count);
  g.k = int(h.k);
  g.bits = int(h.bits);
  g.codes_checksum = h.codes_crc32;
  g.offsets.resize(h.node_count + 1);
  g.neighbours.resize(h.entries);
  g.weights.resize(h.entries);
  std::memcpy(g.offsets.data(), base + h.offsets_offset, g.offsets.size() * 8);
  std::memcpy(g.neighbours.data(), base + h.neighbours_offset, g.neighbours.size() * 4);
  std::memcpy(g.weights.data(), base + h.weights_offset, g.weights.size() * 4);
  validate(g, path);
  return g;
}

}  // namespace i2v
