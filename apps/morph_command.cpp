// `i2v morph`: semantic morphing (Illustration2Vec 4.4) — the shortest path between two
// illustrations over the top-k graph, a smooth transition from one to the other.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <memory>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "index/code_store.h"
#include "index/graph.h"
#include "apps/results.h"
#include "index/morph.h"
#include "base/progress.h"
#include "apps/render.h"

namespace i2v::app {
namespace {

struct MorphOptions {
  std::string from, to, store, graph, json, sheet, image_root;
  int alternatives = 1, thumb = 160;
};

void run_morph(const MorphOptions& o) {
  const CodeStore store = CodeStore::open(o.store);
  CommandFiles inputs_and_outputs;
  inputs_and_outputs.input("--store", o.store).input("--graph", o.graph).output("--json", o.json).output("--sheet", o.sheet);
  add_store_pictures(inputs_and_outputs, store, o.image_root, o.sheet);
  inputs_and_outputs.check();
  const NeighbourGraph graph = load_graph(o.graph);
  I2V_CHECK(graph.codes_checksum == store.codes_checksum() && graph.node_count == store.size(),
            "{} was not built from {} (another store or other codes); rebuild it with `i2v index graph --store {}`",
            o.graph, o.store, o.store);
  I2V_CHECK(o.sheet.empty() || store.has_paths(), "{} records no image paths, so there is no contact sheet to draw",
            o.store);
  const int64_t a = find_item(store, o.from, o.image_root), b = find_item(store, o.to, o.image_root);
  const std::vector<GraphPath> paths = shortest_paths(graph, int32_t(a), int32_t(b), o.alternatives);
  if (paths.empty()) {
    const std::vector<int32_t> component = connected_components(graph);
    std::map<int32_t, int64_t> sizes;
    for (int32_t c : component) ++sizes[c];
    I2V_THROW("{} and {} are not connected in {}: they lie in different components ({} and {} items; the graph has {} "
              "components). A graph with a larger --k joins more of them.", o.from, o.to, o.graph,
              format_count(sizes[component[size_t(a)]]), format_count(sizes[component[size_t(b)]]),
              format_count(int64_t(sizes.size())));
  }
  nlohmann::json out = {{"store", o.store}, {"graph", o.graph}, {"from", item_json(store, a)}, {"to", item_json(store, b)},
                        {"paths", paths_json(paths, [&](int64_t row) { return item_json(store, row); })}};
  std::vector<std::string> files;
  size_t longest = 0;
  for (const GraphPath& p : paths) longest = std::max(longest, p.nodes.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const GraphPath& p = paths[i];
    std::vector<int64_t> ids;
    for (int32_t node : p.nodes) {
      ids.push_back(store.id(node));
      files.push_back(picture_file(store, node, o.image_root));
    }
    files.resize(files.size() + longest - p.nodes.size());  // each path on its own row
    fmt::print(stderr, "path {}: {} pictures, Hamming length {}: {}\n", i + 1, p.nodes.size(), p.length,
               fmt::join(ids, " -> "));
  }
  if (!o.sheet.empty()) {
    std::vector<int> ends;
    for (size_t row = 0; row < paths.size(); ++row) {
      ends.push_back(int(row * longest));
      ends.push_back(int(row * longest + paths[row].nodes.size() - 1));
    }
    write_contact_sheet(o.sheet, files, o.thumb, int(longest), ends, "morph", out);
  }
  emit_json(out, o.json);
}

void add_morph_command(CLI::App& app) {
  auto o = std::make_shared<MorphOptions>();
  CLI::App* cmd = app.add_subcommand("morph", "Semantic morphing: the smoothest transition between two illustrations");
  cmd->add_option("from", o->from, "Start: an id, or an image path the store records")->required();
  cmd->add_option("to", o->to, "End: an id, or an image path the store records")->required();
  cmd->add_option("--store", o->store, "The code store")->required();
  cmd->add_option("--graph", o->graph, "Its top-k graph (i2v index graph)")->required();
  cmd->add_option("--alternatives", o->alternatives, "How many shortest paths to list (Yen's algorithm), shortest first")
      ->capture_default_str()
      ->check(at_least(1));
  cmd->add_option("--json", o->json, "Also write the JSON to this file");
  cmd->add_option("--sheet", o->sheet, "Draw the transition as a PNG: one row per path, its ends framed");
  cmd->add_option("--images", o->image_root,
                  "The image root the store's relative image paths are under (default: the store's own folder)");
  add_deprecated_alias(cmd, "--image-root", o->image_root, "--images");
  cmd->add_option("--thumb", o->thumb, "Thumbnail size in pixels")->capture_default_str()->check(at_least(1));
  cmd->footer(
      "The path is the shortest between the two over the graph whose edges join each illustration to its\n"
      "top-k Hamming neighbours, weighted by Hamming distance (Dijkstra); each step changes few semantic\n"
      "attributes. JSON: {\"paths\": [{\"length\", \"steps\": [{id, row, path, distance_from_previous,\n"
      "distance_so_far}]}]}. Two illustrations in different components of the graph have no path: the\n"
      "command says so and exits with status 1.\n\n"
      "Examples:\n"
      "  i2v morph 120 4711 --store safe.i2vcodes --graph safe.i2vgraph --sheet morph.png\n"
      "  i2v morph a.jpg b.jpg --store safe.i2vcodes --graph safe.i2vgraph --alternatives 3 --json morph.json");
  cmd->callback([o] { run_morph(*o); });
}

const bool registered = register_command("morph", add_morph_command);

}  // namespace
}  // namespace i2v::app
