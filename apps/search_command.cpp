// `i2v search`: the k illustrations nearest to one of the store's, by Hamming distance of their
// hash codes (Illustration2Vec 4.2), as JSON and a contact sheet.
#include <cstdio>
#include <memory>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "index/code_store.h"
#include "index/knn.h"
#include "apps/results.h"
#include "apps/render.h"

namespace i2v::app {
namespace {

struct SearchOptions {
  std::string query, store, json, sheet, image_root, device = "cpu";
  int k = 10, thumb = 160, columns = 6;
};

void run_search(const SearchOptions& o) {
  const CodeStore store = CodeStore::open(o.store);
  CommandFiles files;
  files.input("--store", o.store).output("--json", o.json).output("--sheet", o.sheet);
  add_store_pictures(files, store, o.image_root, o.sheet);
  files.check();
  I2V_CHECK(o.sheet.empty() || store.has_paths(), "{} records no image paths, so there is no contact sheet to draw; "
            "rebuild it with `i2v index build --paths`", o.store);
  const int64_t query = find_item(store, o.query, o.image_root);
  const int k = int(std::min<int64_t>(o.k, store.size() - 1));
  I2V_CHECK(k >= 1, "{} holds a single item: nothing to find", o.store);
  // The query is a row of the store: search for k + 1 and leave it out.
  const KnnLists nearest = knn(store.codes(), {store.code(query), 1, store.words()}, k + 1, Device::parse(o.device));
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::string> pictures = {picture_file(store, query, o.image_root)};
  for (int r = 0; r <= k && int(results.size()) < k; ++r) {
    const int32_t row = nearest.rows_of(0)[r];
    if (row == query) continue;
    nlohmann::json item = item_json(store, row);
    item["rank"] = results.size() + 1;
    item["distance"] = nearest.distances_of(0)[r];
    results.push_back(item);
    pictures.push_back(picture_file(store, row, o.image_root));
  }
  nlohmann::json out = {{"store", o.store}, {"bits", store.bits()}, {"query", item_json(store, query)},
                        {"k", k}, {"results", results}};
  if (!o.sheet.empty()) write_contact_sheet(o.sheet, pictures, o.thumb, o.columns, {0}, "search", out);
  emit_json(out, o.json);
}

void add_search_command(CLI::App& app) {
  auto o = std::make_shared<SearchOptions>();
  CLI::App* cmd = app.add_subcommand("search", "Find the illustrations nearest to one of the store's (Hamming k-NN)");
  cmd->add_option("query", o->query, "An id, or an image path the store records")->required();
  cmd->add_option("--store", o->store, "The code store (i2v index build)")->required();
  cmd->add_option("--k", o->k, "How many neighbours")->capture_default_str()->check(at_least(1));
  cmd->add_option("--json", o->json, "Also write the JSON to this file");
  cmd->add_option("--sheet", o->sheet, "Draw a contact sheet PNG: the query (framed), then its neighbours");
  cmd->add_option("--images", o->image_root,
                  "The image root the store's relative image paths are under (default: the store's own folder)");
  add_deprecated_alias(cmd, "--image-root", o->image_root, "--images");
  cmd->add_option("--thumb", o->thumb, "Thumbnail size of the sheet in pixels")
      ->capture_default_str()->check(at_least(1));
  cmd->add_option("--columns", o->columns, "Thumbnails per row of the sheet")
      ->capture_default_str()->check(at_least(1));
  add_device_option(cmd, o->device);
  cmd->footer(
      "The neighbours come nearest first, ties to the smaller id; the query itself is left out.\n"
      "JSON: {\"query\": {id, row, path}, \"results\": [{rank, id, row, path, distance}, ...], ...}.\n"
      "A picture the store does not hold has no code: hash it with the store's pictures (`i2v hash`)\n"
      "and search that store.\n\n"
      "Examples:\n"
      "  i2v search 4711 --store safe.i2vcodes --k 5\n"
      "  i2v search images/0042.jpg --store safe.i2vcodes --sheet similar.png --json similar.json");
  cmd->callback([o] { run_search(*o); });
}

const bool registered = register_command("search", add_search_command);

}  // namespace
}  // namespace i2v::app
