#include "data/release_tag_list.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file.h"

namespace i2v {

const char* release_tag_category(int index) {
  I2V_CHECK(index >= 0 && index < kReleaseTagCount, "tag index {} is outside [0, {})", index, kReleaseTagCount);
  if (index < 512) return "general";
  if (index < 1024) return "character";
  if (index < 1536) return "copyright";
  return "rating";
}

std::vector<ReleaseTag> parse_release_tag_list(const std::string& json_text, const std::string& source) {
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& error) {
    I2V_THROW("{}: not valid JSON: {}", source, error.what());
  }
  I2V_CHECK(list.is_array(), "{}: a JSON {}, not the array of tag names of tag_list.json", source, list.type_name());
  I2V_CHECK(list.size() == size_t(kReleaseTagCount),
            "{}: {} tag names; the released models have {} outputs", source, list.size(), kReleaseTagCount);
  std::vector<ReleaseTag> tags;
  tags.reserve(list.size());
  for (int i = 0; i < kReleaseTagCount; ++i) {
    I2V_CHECK(list[i].is_string(), "{}: entry {} is a {}, not a tag name", source, i, list[i].type_name());
    tags.push_back({list[i].get<std::string>(), release_tag_category(i), i});
  }
  return tags;
}

std::vector<ReleaseTag> load_release_tag_list(const std::string& path) {
  constexpr uint64_t kMaxTagListBytes = 64 << 20;
  return parse_release_tag_list(read_file(path, kMaxTagListBytes), path);
}

}  // namespace i2v
