#include "base/config_fields.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"

namespace i2v {
namespace {

// Levenshtein distance: how many single-letter edits turn a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void check_known_fields(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& known) {
  I2V_CHECK(object.is_object(), "config field {}: expected an object, got {}", where.empty() ? "(the top level)" : where,
            object.dump());
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (key.empty() || key[0] == '_' || std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string nearest;
    size_t best = 3;  // at most two edits away counts as a typo
    for (const std::string& name : known)
      if (const size_t d = edit_distance(key, name); d < best) best = d, nearest = name;
    I2V_THROW("config field {}: unknown{} (known here: {}; fields starting with '_' are comments)", field_path(where, key),
              nearest.empty() ? "" : fmt::format(" — did you mean \"{}\"?", nearest), fmt::join(known, ", "));
  }
}

void check_config_range(const nlohmann::json& value, const ConfigRange& range) {
  if (value.is_array()) {
    for (const nlohmann::json& element : value) check_config_range(element, range);
    return;
  }
  if (!value.is_number()) return;
  const double v = value.get<double>();
  if (v >= range.min && v <= range.max) return;
  const bool below = std::isinf(range.max), above = std::isinf(range.min);
  throw ConfigValueError(below   ? fmt::format("must be at least {}, got {}", range.min, value.dump())
                         : above ? fmt::format("must be at most {}, got {}", range.max, value.dump())
                                 : fmt::format("must be between {} and {}, got {}", range.min, range.max, value.dump()));
}

std::string field_path(const std::string& where, const std::string& name) {
  return where.empty() ? name : where + "." + name;
}

}  // namespace i2v
