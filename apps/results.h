// What the search and morph commands share: finding the item a user means (an id, or an image
// path the store records), and reporting results as JSON and contact sheets.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/code_store.h"
#include "index/morph.h"

namespace i2v {

// The row of `reference` in `store`: an integer is an id; anything else must be an image path
// the store records (as given, or after resolving both under `image_root`). Throws with a
// message that says what was tried — and, for an image file the store does not hold, how to
// give it a code (`i2v hash` it with the store's pictures).
int64_t find_item(const CodeStore& store, const std::string& reference, const std::string& image_root);

// The picture of `row` as it opens from the current directory: a relative path the store
// records is under `image_root` when one is given (--image-root), else under the store's own
// folder (CodeStore::image_file).
std::string picture_file(const CodeStore& store, int64_t row, const std::string& image_root);

// Picture paths as they open from the current directory, relative to the folder of the store
// `store_path`: what a store records (index/code_store.h).
std::vector<std::string> paths_for_store(const std::vector<std::string>& paths, const std::string& store_path);

// {"id": ..., "row": ..., "path": ...} ("path" only when the store has paths: the picture as it
// opens from the current directory).
nlohmann::json item_json(const CodeStore& store, int64_t row);

// Morphing paths as JSON: [{"length": L, "steps": [item(row) + {"distance_from_previous",
// "distance_so_far"}, ...]}, ...] (i2v morph's "paths"; i2v serve's /morph).
nlohmann::json paths_json(const std::vector<GraphPath>& paths, const std::function<nlohmann::json(int64_t row)>& item);

// Prints `out` as indented JSON on stdout and, when `file` is given, also writes it there
// (atomically): --json FILE means the same in every command.
void emit_json(const nlohmann::json& out, const std::string& file);

// Draws `files` as a contact sheet PNG at `sheet` (apps/render.h) and records it in `out`
// ("sheet", "unreadable_images"); each unreadable image is also named on stderr after `command`.
void write_contact_sheet(const std::string& sheet, const std::vector<std::string>& files, int thumb, int columns,
                         const std::vector<int>& highlighted, const char* command, nlohmann::json& out);

}  // namespace i2v
