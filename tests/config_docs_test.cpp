// docs/training.md lists exactly the fields the training config is read with: for each section,
// its table in the docs names the fields of the code's table (train/training_config_fields.h),
// with the same types, and where the code has a default the docs show it. And every configs/…
// file that help texts, docs and scripts name exists.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "train/training_config_fields.h"

namespace i2v {
namespace {

using nlohmann::json;

// Each section and the heading of docs/training.md whose first table of fields lists it.
// "data.augment" is the "In `augment`" column of data.preprocess's table.
const std::map<std::string, std::string>& headings() {
  static const std::map<std::string, std::string> sections = {
      {"", "## Top level"},
      {"model", "## `model`"},
      {"init", "## `init`"},
      {"data", "## `data`"},
      {"data.auxiliary.NAME", "### `auxiliary`"},
      {"data.preprocess", "### `preprocess` and `augment`"},
      {"data.augment", "### `preprocess` and `augment`"},
      {"loss", "## `loss`"},
      {"optimizer", "## `optimizer`"},
      {"optimizer.layers[]", "### Per-layer rates: `layers`"},
      {"schedule", "## `schedule`"},
      {"distributed", "## `distributed`"},
      {"transfer", "### The paper's scheme and `i2v transfer`: the `transfer` section"},
      {"transfer.svm", "#### `transfer.svm`"},
  };
  return sections;
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> found;
  size_t begin = line.find('|') + 1;
  for (size_t end = line.find('|', begin); end != std::string::npos; begin = end + 1, end = line.find('|', begin)) {
    std::string cell = line.substr(begin, end - begin);
    cell.erase(0, cell.find_first_not_of(' '));
    cell.erase(cell.find_last_not_of(' ') + 1);
    found.push_back(cell);
  }
  return found;
}

// A docs table: its header's cells, and its rows by the field's name (without the backticks).
struct DocsTable {
  std::vector<std::string> header;
  std::map<std::string, std::vector<std::string>> rows;

  std::string cell(const std::string& field, const std::string& column) const {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == column) return rows.at(field).at(i);
    ADD_FAILURE() << "no column " << column;
    return "";
  }
};

// The first table under `heading` whose first column is "Field" or "Key".
DocsTable field_table(const std::string& heading) {
  std::ifstream in(std::string(I2V_SOURCE_DIR) + "/docs/training.md");
  std::string line;
  bool under = false;
  DocsTable table;
  while (std::getline(in, line)) {
    if (line.rfind('#', 0) == 0) under = line == heading;
    if (!under) continue;
    if (line.rfind('|', 0) == 0) {
      const std::vector<std::string> row = cells(line);
      if (table.header.empty()) table.header = row;
      else if (row[0].size() > 2 && row[0].front() == '`' && row[0].back() == '`')
        table.rows[row[0].substr(1, row[0].size() - 2)] = row;
    } else if (!table.header.empty()) {
      if (table.header[0] == "Field" || table.header[0] == "Key") break;
      table = DocsTable();  // another kind of table: look further
    }
  }
  EXPECT_FALSE(table.rows.empty()) << "docs/training.md has no table of fields under " << heading;
  return table;
}

TEST(ConfigDocs, EverySectionHasAHeading) {
  for (const auto& [section, fields] : training_config_fields())
    EXPECT_TRUE(headings().count(section)) << "section '" << section << "' is not in docs/training.md";
}

TEST(ConfigDocs, EachSectionListsExactlyItsFieldsWithTheirTypesAndDefaults) {
  for (const auto& [section, fields] : training_config_fields()) {
    if (!headings().count(section)) continue;
    SCOPED_TRACE("section '" + section + "'");
    const DocsTable table = field_table(headings().at(section));
    std::set<std::string> documented;
    for (const auto& [name, row] : table.rows)
      if (section != "data.augment" || table.cell(name, "In `augment`") == "yes") documented.insert(name);
    std::set<std::string> read;
    for (const ConfigFieldInfo& field : fields) {
      read.insert(field.name);
      if (!documented.count(field.name)) continue;  // reported below
      EXPECT_EQ(table.cell(field.name, "Type"), field.type) << field.name;
      if (field.default_value.is_null()) continue;
      const std::string shown = table.cell(field.name, "Default");
      ASSERT_TRUE(shown.size() > 2 && shown.front() == '`' && shown.back() == '`')
          << field.name << ": the docs' default is " << shown << ", the code's " << field.default_value.dump();
      EXPECT_EQ(json::parse(shown.substr(1, shown.size() - 2)), field.default_value) << field.name;
    }
    for (const std::string& name : read) EXPECT_TRUE(documented.count(name)) << name << " is read but not documented";
    for (const std::string& name : documented) EXPECT_TRUE(read.count(name)) << name << " is documented but not read";
  }
}

// The commands' help and examples (apps/), the docs, READMEs and scripts name configs that must
// be there: an example that names a missing file fails the first user who copies it.
TEST(ConfigDocs, EveryConfigsPathInHelpTextsAndDocsExists) {
  namespace fs = std::filesystem;
  const fs::path source = I2V_SOURCE_DIR;
  std::vector<fs::path> files = {source / "README.md"};
  for (const char* folder : {"apps", "docs", "scripts", "bench", "configs", "base", "kernels", "nn", "data", "train",
                             "index"})
    for (const auto& entry : fs::directory_iterator(source / folder)) {
      const std::string extension = entry.path().extension().string();
      if (extension == ".cpp" || extension == ".h" || extension == ".md" || extension == ".sh" || extension == ".json")
        files.push_back(entry.path());
    }
  const std::regex config_path(R"(configs/[A-Za-z0-9_.-]+)");
  int named = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    for (std::sregex_iterator it(content.begin(), content.end(), config_path), end; it != end; ++it) {
      const std::string name = it->str();
      EXPECT_TRUE(fs::is_regular_file(source / name)) << fs::relative(file, source).string() << " names " << name;
      ++named;
    }
  }
  EXPECT_GT(named, 10);
}

}  // namespace
}  // namespace i2v
