// Neighbour graphs (index/graph.h): loaded, then its components and shortest paths computed. Each
// input is tried as it is and with its checksums made right (as for code stores).
#include "fuzz/fuzz_input.h"
#include "index/binary_file.h"
#include "index/graph.h"
#include "index/morph.h"

namespace {

using namespace i2v;

void load(const std::string& bytes) {
  const fuzz::InputFile input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "i2vgraph");
  fuzz::expect_clean_error(input.path(), [&] {
    const NeighbourGraph graph = load_graph(input.path());
    const std::vector<int32_t> components = connected_components(graph);
    if (graph.node_count > 1 && graph.node_count <= INT32_MAX) {
      const int32_t last = int32_t(graph.node_count - 1);
      const std::optional<GraphPath> path = shortest_path(graph, 0, last);
      if (path.has_value() != (components[0] == components[size_t(last)]))
        fuzz::finding("a shortest path exists exactly when both ends are in one component", "");
      shortest_paths(graph, 0, last, 2);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  load(bytes);
  if (bytes.size() < kIndexHeaderBytes) return 0;
  // The header (index/graph.cpp): nodes at 16, edge entries at 32; offsets, neighbours and weights
  // at the offsets of 48, 56, 64, their CRC-32s at 80, 84, 88.
  const uint64_t nodes = fuzz::read_le(bytes, 16, 8), entries = fuzz::read_le(bytes, 32, 8);
  if (nodes < (uint64_t(1) << 31) && entries < (uint64_t(1) << 40)) {
    fuzz::put_crc32(bytes, 80, fuzz::read_le(bytes, 48, 8), (nodes + 1) * 8);
    fuzz::put_crc32(bytes, 84, fuzz::read_le(bytes, 56, 8), entries * 4);
    fuzz::put_crc32(bytes, 88, fuzz::read_le(bytes, 64, 8), entries * 4);
  }
  seal_index_header(bytes.data());
  load(bytes);
  return 0;
}
