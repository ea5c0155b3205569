// `i2v index`: build a code store, inspect it, and compute what search and morphing need —
// every item's k nearest neighbours, the top-k graph — and recall@k against groups of items.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "apps/results.h"
#include "base/error.h"
#include "index/code_store.h"
#include "index/graph.h"
#include "index/knn.h"
#include "base/progress.h"
#include "index/recall.h"
#include "nn/npy.h"

namespace i2v::app {
namespace {


// ---- build ----------------------------------------------------------------------------------

struct BuildOptions {
  std::string codes, ids, paths, output;
  bool force = false;
};

void run_build(const BuildOptions& o) {
  CommandFiles files;
  files.input("--codes", o.codes).input("--ids", o.ids).input("--paths", o.paths);
  files.output("-o", o.output, Existing::needs_force);
  files.check(o.force);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> paths =
      o.paths.empty() ? std::vector<std::string>{} : paths_for_store(read_path_list(o.paths), o.output);
  write_code_store(o.output, code_source_from_npy(o.codes, o.ids, paths));
  const CodeStore store = CodeStore::open(o.output);
  std::printf("wrote %s: %s codes of %s bits (%s), ids %s..%s%s, in %s\n", o.output.c_str(),
              format_count(store.size()).c_str(), format_count(store.bits()).c_str(),
              format_bytes(double(store.size()) * store.bits() / 8).c_str(), format_count(store.id(0)).c_str(),
              format_count(store.id(store.size() - 1)).c_str(), store.has_paths() ? ", with image paths" : "",
              format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()).c_str());
}

void add_build(CLI::App& index) {
  auto o = std::make_shared<BuildOptions>();
  CLI::App* cmd = index.add_subcommand("build", "Build a code store from binary codes");
  cmd->add_option("--codes", o->codes,
                  "Codes .npy: uint8 N x B/8 packed MSB-first (np.packbits(bits, axis=1)) or bool N x B; "
                  "B a multiple of 64")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--ids", o->ids, "Ids .npy: int32/int64, one per code, unique (default: 0..N-1); rows are "
                                   "stored in id order")
      ->check(CLI::ExistingFile);
  cmd->add_option("--paths", o->paths, "Text file with the image path of each code, one per line, in the order "
                                       "of the codes (relative ones from the current directory; the store keeps "
                                       "them relative to its own folder)")
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->output, "The store to write (atomically)")->required();
  add_force_flag(cmd, o->force);
  cmd->footer(
      "The store keeps the codes (memory-mapped when used, so millions cost no read into RAM), the ids\n"
      "and the image paths, with checksums; every command checks it when opening it.\n"
      "Codes of pictures come from `i2v hash`, which writes a store itself (-o x.i2vcodes) or a .npy\n"
      "for this command (-o x.npy); codes made elsewhere come here as a .npy.\n\n"
      "Examples:\n"
      "  i2v index build --codes hashes.npy --paths images.txt -o safe.i2vcodes\n"
      "  i2v index build --codes bits.npy --ids post_ids.npy -o posts.i2vcodes");
  cmd->callback([o] { run_build(*o); });
}

// ---- info -----------------------------------------------------------------------------------

struct InfoOptions {
  std::string store, graph;
};

void run_info(const InfoOptions& o) {
  const CodeStore store = CodeStore::open(o.store);
  std::printf("%s: %s codes of %s bits (%s of codes), ids %s..%s, image paths: %s, CRC-32 of the codes %08x\n",
              o.store.c_str(), format_count(store.size()).c_str(), format_count(store.bits()).c_str(),
              format_bytes(double(store.size()) * store.bits() / 8).c_str(), format_count(store.id(0)).c_str(),
              format_count(store.id(store.size() - 1)).c_str(), store.has_paths() ? "yes" : "no",
              store.codes_checksum());
  if (o.graph.empty()) return;
  const NeighbourGraph g = load_graph(o.graph);
  int64_t min_degree = g.node_count, max_degree = 0;
  for (int64_t i = 0; i < g.node_count; ++i) {
    min_degree = std::min(min_degree, g.degree(i));
    max_degree = std::max(max_degree, g.degree(i));
  }
  const std::vector<int32_t> component = connected_components(g);
  std::map<int32_t, int64_t> sizes;
  for (int32_t c : component) ++sizes[c];
  int64_t largest = 0;
  for (const auto& [c, size] : sizes) largest = std::max(largest, size);
  std::printf("%s: %s nodes, top-%d graph, %s edges, degree %lld..%lld (mean %.2f), connected components: %s "
              "(the largest has %s nodes); %s\n",
              o.graph.c_str(), format_count(g.node_count).c_str(), g.k, format_count(g.entries() / 2).c_str(),
              (long long)min_degree, (long long)max_degree, double(g.entries()) / double(g.node_count),
              format_count(int64_t(sizes.size())).c_str(), format_count(largest).c_str(),
              g.codes_checksum == store.codes_checksum() ? "built from this store" : "built from ANOTHER store");
}

void add_info(CLI::App& index) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = index.add_subcommand("info", "Check a code store (and a graph) and describe it");
  cmd->add_option("store", o->store, "The code store")->required();
  cmd->add_option("--graph", o->graph, "A graph built from it (i2v index graph)");
  cmd->footer("Opening checks the whole file: sizes, checksums, ids.\n\nExamples:\n"
              "  i2v index info safe.i2vcodes\n  i2v index info safe.i2vcodes --graph safe.i2vgraph");
  cmd->callback([o] { run_info(*o); });
}

// ---- knn ------------------------------------------------------------------------------------

struct KnnOptions {
  std::string store, output, device = "cpu";
  int k = 5;
};

KnnLists all_pairs_with_progress(const CodeStore& store, int k, Device device, const std::string& what) {
  Progress meter(what, store.size(), "queries", double(store.size() - 1), "pairs");
  KnnLists knn = all_pairs_knn(store.codes(), k, device, [&](int64_t done, int64_t) { meter.update(done); });
  meter.finish();
  return knn;
}

void run_knn(const KnnOptions& o) {
  CommandFiles files;
  files.input("--store", o.store).output("-o", o.output);
  files.check();
  const CodeStore store = CodeStore::open(o.store);
  const KnnLists knn = all_pairs_with_progress(store, o.k, Device::parse(o.device), "knn");
  std::vector<int64_t> out;
  out.reserve(size_t(store.size()) * size_t(o.k) * 2);
  for (int64_t i = 0; i < store.size(); ++i) {
    for (int r = 0; r < o.k; ++r) {
      out.push_back(store.id(knn.rows_of(i)[r]));
      out.push_back(knn.distances_of(i)[r]);
    }
  }
  write_npy(o.output, NpyType::i64, {store.size(), o.k, 2}, out.data());
  std::printf("wrote %s: int64 [%lld, %d, 2], [i, r] = (id, Hamming distance) of item i's r-th nearest, item i "
              "being the store's i-th id\n", o.output.c_str(), (long long)store.size(), o.k);
}

void add_knn(CLI::App& index) {
  auto o = std::make_shared<KnnOptions>();
  CLI::App* cmd = index.add_subcommand("knn", "Every item's k nearest other items (exact Hamming k-NN) as .npy");
  cmd->add_option("--store", o->store, "The code store")->required();
  cmd->add_option("--k", o->k, "Neighbours per item")->capture_default_str()->check(at_least(1));
  cmd->add_option("-o,--output", o->output, "The .npy to write")->required();
  add_device_option(cmd, o->device, "cpu, sim (the CUDA kernel on the emulator: slow) or cuda");
  cmd->footer(
      "Output: int64 array [N, k, 2]; [i, r, 0] is the id of item i's r-th nearest item, [i, r, 1] its\n"
      "Hamming distance; items are in the store's order (ascending id). Ties go to the smaller id.\n"
      "In numpy: knn = np.load('knn.npy'); ids, distances = knn[..., 0], knn[..., 1]\n\n"
      "Examples:\n  i2v index knn --store safe.i2vcodes --k 10 -o knn.npy\n"
      "  i2v index knn --store safe.i2vcodes --k 32 -o knn.npy --device cuda");
  cmd->callback([o] { run_knn(*o); });
}

// ---- graph ----------------------------------------------------------------------------------

struct GraphOptions {
  std::string store, output, device = "cpu";
  int k = 5;
  bool force = false;
};

void run_graph(const GraphOptions& o) {
  CommandFiles files;
  files.input("--store", o.store).output("-o", o.output, Existing::needs_force);
  files.check(o.force);
  const CodeStore store = CodeStore::open(o.store);
  const KnnLists knn = all_pairs_with_progress(store, o.k, Device::parse(o.device), "graph");
  const NeighbourGraph graph = graph_from_knn(knn, store.bits(), store.codes_checksum());
  save_graph(o.output, graph);
  const std::vector<int32_t> component = connected_components(graph);
  std::printf("wrote %s: %s nodes, %s edges (top-%d in either direction), connected components: %s\n",
              o.output.c_str(), format_count(graph.node_count).c_str(), format_count(graph.entries() / 2).c_str(), o.k,
              format_count(int64_t(*std::max_element(component.begin(), component.end())) + 1).c_str());
}

void add_graph(CLI::App& index) {
  auto o = std::make_shared<GraphOptions>();
  CLI::App* cmd = index.add_subcommand("graph", "Build the top-k neighbour graph for semantic morphing");
  cmd->add_option("--store", o->store, "The code store")->required();
  cmd->add_option("--k", o->k, "Neighbours per item (the paper: 5)")->capture_default_str()->check(at_least(1));
  cmd->add_option("-o,--output", o->output, "The graph file to write (atomically)")->required();
  add_force_flag(cmd, o->force);
  add_device_option(cmd, o->device);
  cmd->footer(
      "Items i and j are joined when either is among the other's k nearest; the edge weighs their\n"
      "Hamming distance (Illustration2Vec, 4.4). Memory is O(N k): no N x N matrix. The graph\n"
      "records the store's checksum, so `i2v morph` refuses to mix a graph and another store.\n\n"
      "Examples:\n  i2v index graph --store safe.i2vcodes -o safe.i2vgraph\n"
      "  i2v index graph --store safe.i2vcodes --k 10 -o safe-k10.i2vgraph --device cuda");
  cmd->callback([o] { run_graph(*o); });
}

// ---- recall ---------------------------------------------------------------------------------

struct RecallOptions {
  std::string store, groups, device = "cpu";
  int64_t id_modulus = 0;
  std::vector<int> ks = {1, 5, 10};
  uint64_t seed = 1;
};

// The group of each item: from a .npy, or its id modulo a number.
std::vector<int64_t> read_groups(const RecallOptions& o, const CodeStore& store) {
  I2V_CHECK(o.groups.empty() != (o.id_modulus <= 0), "give --groups FILE.npy or --group-by-id-mod N (one of them)");
  std::vector<int64_t> groups;
  if (o.id_modulus > 0) {
    for (int64_t row = 0; row < store.size(); ++row) groups.push_back(store.id(row) % o.id_modulus);
    return groups;
  }
  const Tensor groups_tensor = read_npy_tensor(o.groups);
  I2V_CHECK(groups_tensor.dim() == 1 && groups_tensor.size(0) == store.size() &&
                (groups_tensor.dtype() == DType::i64 || groups_tensor.dtype() == DType::i32),
            "{}: groups must be an int32/int64 array of {} elements (one per item, in the store's order), not {} of {}",
            o.groups, store.size(), shape_str(groups_tensor.shape()), dtype_name(groups_tensor.dtype()));
  return groups_tensor.cast(DType::i64).to_vector<int64_t>();
}

void run_recall(const RecallOptions& o) {
  const CodeStore store = CodeStore::open(o.store);
  const std::vector<int64_t> groups = read_groups(o, store);
  const RecallReport report = evaluate_recall(store.codes(), groups, o.ks, Device::parse(o.device), o.seed);
  std::printf("recall@k of the other items of each item's group among its k nearest (%s items with a partner, "
              "%s items in all)\n   k    codes  random codes\n",
              format_count(report.queries).c_str(), format_count(store.size()).c_str());
  for (const RecallAtK& r : report.at) std::printf("%4d   %6.3f  %6.3f\n", r.k, r.recall, r.random_recall);
}

void add_recall(CLI::App& index) {
  auto o = std::make_shared<RecallOptions>();
  CLI::App* cmd = index.add_subcommand("recall", "Recall@k of 'the same item' (e.g. one emoji, two vendors)");
  cmd->add_option("--store", o->store, "The code store")->required();
  cmd->add_option("--groups", o->groups, "int32/int64 .npy, one group id per item in the store's order; items of "
                                         "a group are 'the same'; negative = no group")
      ->check(CLI::ExistingFile);
  cmd->add_option("--group-by-id-mod", o->id_modulus,
                  "Instead: items whose ids agree modulo N are the same (the emoji dump's ids are vendor x 10000 + emoji)")
                      ->check(at_least(1));
  cmd->add_option("--k", o->ks, "The k to report")->capture_default_str()->delimiter(',')->check(at_least(1));
  cmd->add_option("--seed", o->seed, "Seed of the random codes of the baseline")->capture_default_str();
  add_device_option(cmd, o->device);
  cmd->footer(
      "For each item with other items in its group: the share of them among its k nearest other\n"
      "items, averaged; beside it the same on random codes of the same size (the chance level).\n\n"
      "Examples:\n  i2v index recall --store emoji.i2vcodes --groups emoji_names.npy --k 1,5,10\n"
      "  i2v index recall --store emoji.i2vcodes --group-by-id-mod 10000");
  cmd->callback([o] { run_recall(*o); });
}

void add_index_command(CLI::App& app) {
  CLI::App* index = app.add_subcommand("index", "Binary-code stores: build, check, k-NN, the morphing graph, recall");
  index->require_subcommand(1);
  add_build(*index);
  add_info(*index);
  add_knn(*index);
  add_graph(*index);
  add_recall(*index);
  index->footer(
      "A store holds N binary codes (B bits, a multiple of 64; 4,096 for the i2v hash) with ids and\n"
      "image paths. `i2v search`, `i2v morph` and `i2v tsne` use it.\n\n"
      "Examples:\n"
      "  i2v index build --codes hashes.npy --paths images.txt -o safe.i2vcodes\n"
      "  i2v index graph --store safe.i2vcodes -o safe.i2vgraph\n"
      "  i2v morph 120 4711 --store safe.i2vcodes --graph safe.i2vgraph --sheet morph.png");
}

const bool registered = register_command("index", add_index_command);

}  // namespace
}  // namespace i2v::app
