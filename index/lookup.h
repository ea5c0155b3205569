// Finding the item a user means (an id, or an image path recorded in the store) and describing
// items in JSON, for the search, morph and index commands.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "index/code_store.h"

namespace i2v {

// The row of `reference` in `store`: an integer is an id; anything else must be an image path
// the store records (as given, or after resolving both under `image_root`). Throws with a
// message that says what was tried — and, for an image file the store does not hold, that
// hashing a new image needs the hash model (`--model/--weights`), which this build lacks.
int64_t find_item(const CodeStore& store, const std::string& reference, const std::string& image_root);

// {"id": ..., "row": ..., "path": ...} ("path" only when the store has paths).
nlohmann::json item_json(const CodeStore& store, int64_t row);

}  // namespace i2v
