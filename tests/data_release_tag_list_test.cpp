// The tag list of the original release (tag_list.json): names and categories by position, and
// every other shape of JSON refused with the file and the entry.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "data/release_tag_list.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "in: " << (text)

nlohmann::json release_names() {
  nlohmann::json names = nlohmann::json::array();
  for (int i = 0; i < kReleaseTagCount; ++i) names.push_back(fmt::format("tag {}", i));
  names[0] = "1girl";
  names[600] = "hatsune miku";
  names[1100] = "東方";  // the release spells copyrights in their own script
  names[1536] = "safe";
  names[1537] = "questionable";
  names[1538] = "explicit";
  return names;
}

TEST(ReleaseTagList, NamesAndCategoriesByPosition) {
  const std::vector<ReleaseTag> tags = parse_release_tag_list(release_names().dump(), "tag_list.json");
  ASSERT_EQ(tags.size(), size_t(kReleaseTagCount));
  for (int i = 0; i < kReleaseTagCount; ++i) EXPECT_EQ(tags[i].index, i);
  const std::vector<std::pair<int, std::string>> boundaries = {
      {0, "general"},     {511, "general"},     {512, "character"}, {1023, "character"},
      {1024, "copyright"}, {1535, "copyright"}, {1536, "rating"},   {1538, "rating"}};
  for (const auto& [index, category] : boundaries) {
    EXPECT_EQ(tags[index].category, category) << index;
    EXPECT_EQ(release_tag_category(index), category) << index;
  }
  EXPECT_EQ(tags[0].name, "1girl");
  EXPECT_EQ(tags[600].name, "hatsune miku");
  EXPECT_EQ(tags[1100].name, "東方");
  EXPECT_EQ(tags[1538].name, "explicit");
  EXPECT_THROW(release_tag_category(kReleaseTagCount), Error);
  EXPECT_THROW(release_tag_category(-1), Error);
}

TEST(ReleaseTagList, RefusesOtherShapes) {
  auto message_for = [](const std::string& text) {
    try {
      parse_release_tag_list(text, "tags.json");
    } catch (const Error& error) {
      return error.message();
    }
    return std::string();
  };
  nlohmann::json short_list = release_names();
  short_list.erase(short_list.size() - 1);
  nlohmann::json with_number = release_names();
  with_number[700] = 7;
  EXPECT_CONTAINS(message_for("[\"a\", "), "tags.json: not valid JSON");
  EXPECT_CONTAINS(message_for("{\"tags\": []}"), "tags.json: a JSON object, not the array");
  EXPECT_CONTAINS(message_for(short_list.dump()), "tags.json: 1538 tag names; the released models have 1539 outputs");
  EXPECT_CONTAINS(message_for(with_number.dump()), "tags.json: entry 700 is a number, not a tag name");
}

TEST(ReleaseTagList, LoadsAFile) {
  const fs::path file = fs::temp_directory_path() / fmt::format("i2v_tag_list_{}.json", test::run_seed());
  std::ofstream(file) << release_names().dump();
  EXPECT_EQ(load_release_tag_list(file.string())[512].category, "character");
  fs::remove(file);
  EXPECT_THROW(load_release_tag_list(file.string()), Error);
}

}  // namespace
}  // namespace i2v
