// Config objects refuse the fields they do not know: a misspelt "epoch" would otherwise leave
// "epochs" at its default without a word. Keys that start with '_' are comments.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace i2v {

// Throws naming `where` (e.g. "data"), the unknown field, the nearest known one when it looks
// like a typo, and the known ones.
void check_known_fields(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& known);

}  // namespace i2v
