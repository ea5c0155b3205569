// The layering of the source tree is a checked rule: each folder is a layer and may include
// headers only from the layers below it (README's layout table; CMakeLists.txt links one library
// per folder along the same graph):
//   base <- kernels <- nn <- data <- train;   index <- nn;   apps -> everything; fuzz -> the
//   libraries (its targets feed them bytes).
// This test reads every #include "folder/..." line of the library and tool sources and fails on
// a header from a folder its layer may not use, naming the file, the line and the rule.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/temp_directory.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// Each layer and the layers it may include from (itself included).
const std::map<std::string, std::set<std::string>>& allowed_includes() {
  static const std::map<std::string, std::set<std::string>> graph = {
      {"base", {"base"}},
      {"kernels", {"base", "kernels"}},
      {"nn", {"base", "kernels", "nn"}},
      {"data", {"base", "kernels", "nn", "data"}},
      {"train", {"base", "kernels", "nn", "data", "train"}},
      {"index", {"base", "kernels", "nn", "index"}},
      {"apps", {"base", "kernels", "nn", "data", "train", "index", "apps"}},
      {"python", {"base", "kernels", "nn", "data", "train", "index", "python"}},
      {"fuzz", {"base", "kernels", "nn", "data", "train", "index", "fuzz"}},
  };
  return graph;
}

bool is_source(const fs::path& path) {
  static const std::set<std::string> extensions = {".h", ".cpp", ".cu", ".cuh"};
  return extensions.count(path.extension().string()) > 0;
}

struct Violation {
  std::string file;
  int line;
  std::string included;
};

// The includes of `layer`'s sources that name a project folder outside what the layer may use.
std::vector<Violation> wrong_way_includes(const fs::path& root, const std::string& layer) {
  static const std::regex include_line(R"(^\s*#\s*include\s*"([a-z_]+)/[^"]+")");
  const std::set<std::string>& allowed = allowed_includes().at(layer);
  std::vector<Violation> found;
  for (const auto& entry : fs::recursive_directory_iterator(root / layer)) {
    if (!entry.is_regular_file() || !is_source(entry.path())) continue;
    std::ifstream in(entry.path());
    std::string text;
    for (int line = 1; std::getline(in, text); ++line) {
      std::smatch match;
      if (!std::regex_search(text, match, include_line)) continue;
      const std::string folder = match[1];
      // Only project folders count ("tests/..." and library headers are not layers).
      if (allowed_includes().count(folder) && !allowed.count(folder))
        found.push_back({fs::relative(entry.path(), root).string(), line, text});
    }
  }
  return found;
}

TEST(Layering, NoFolderIncludesALayerAboveIt) {
  const fs::path root = I2V_SOURCE_DIR;
  int files_read = 0;
  for (const auto& [layer, allowed] : allowed_includes()) {
    ASSERT_TRUE(fs::is_directory(root / layer)) << "missing layer folder " << (root / layer);
    for (const Violation& v : wrong_way_includes(root, layer)) {
      std::string rule;
      for (const std::string& a : allowed) rule += (rule.empty() ? "" : ", ") + a;
      ADD_FAILURE() << v.file << ":" << v.line << ": `" << v.included << "`: " << layer << "/ may include only "
                    << rule;
    }
    for (const auto& entry : fs::recursive_directory_iterator(root / layer))
      files_read += entry.is_regular_file() && is_source(entry.path());
  }
  EXPECT_GT(files_read, 100);  // the tree was found and read
}

// Every folder of the root that holds library or tool sources is a layer of the table, so a new
// folder cannot escape the rule.
TEST(Layering, EverySourceFolderIsALayer) {
  const fs::path root = I2V_SOURCE_DIR;
  const std::set<std::string> not_layers = {"tests", "bench", "scripts", "docs", "configs", "cmake", ".ci"};
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name[0] == '.' || name.rfind("build", 0) == 0 || not_layers.count(name) ||
        allowed_includes().count(name))
      continue;
    for (const auto& file : fs::recursive_directory_iterator(entry.path()))
      if (file.is_regular_file() && is_source(file.path()))
        ADD_FAILURE() << name << "/ holds sources (" << fs::relative(file.path(), root).string()
                      << ") but is not a layer of tests/layering_test.cpp";
  }
}

// The rule itself catches a wrong-way include: a header under nn/ that includes train/.
class LayeringRule : public test::TempDirectoryTest {};

TEST_F(LayeringRule, AWrongWayIncludeIsReported) {
  fs::create_directories(dir_ / "nn");
  std::ofstream(dir_ / "nn" / "bad.h") << "#pragma once\n#include \"kernels/device.h\"\n#include \"train/sgd.h\"\n";
  const std::vector<Violation> found = wrong_way_includes(dir_, "nn");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].file, "nn/bad.h");
  EXPECT_EQ(found[0].line, 3);
}

}  // namespace
}  // namespace i2v
