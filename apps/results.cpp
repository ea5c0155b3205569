#include "apps/results.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/render.h"
#include "base/error.h"
#include "base/atomic_file.h"
#include "base/relative_path.h"

namespace i2v {
namespace {

bool parse_integer(const std::string& text, int64_t& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  value = parsed;
  return true;
}

}  // namespace

int64_t find_item(const CodeStore& store, const std::string& reference, const std::string& image_root) {
  int64_t id = 0;
  if (parse_integer(reference, id)) {
    const std::optional<int64_t> row = store.find_id(id);
    I2V_CHECK(row.has_value(), "{}: no item with id {} (ids {}..{}, {} items)", store.path(), id, store.id(0),
              store.id(store.size() - 1), store.size());
    return *row;
  }
  if (store.has_paths()) {
    if (const std::optional<int64_t> row = store.find_path(reference)) return *row;
    // The same file named differently: compare resolved, normalised paths.
    std::error_code error;
    const auto wanted = std::filesystem::weakly_canonical(reference, error);
    for (int64_t row = 0; row < store.size() && !error; ++row) {
      const auto stored = std::filesystem::weakly_canonical(picture_file(store, row, image_root), error);
      if (!error && stored == wanted) return row;
    }
  }
  I2V_CHECK(!std::filesystem::is_regular_file(reference),
            "{} is not in {}: a picture the store does not hold has no code yet; hash it with the store's pictures "
            "(`i2v hash ... -o new.i2vcodes`), then search that store by this path or its id", reference, store.path());
  I2V_THROW("'{}' is neither an id nor an image path of {}{}", reference, store.path(),
            store.has_paths() ? "" : " (the store records no image paths; give an id)");
}

std::string picture_file(const CodeStore& store, int64_t row, const std::string& image_root) {
  if (image_root.empty()) return store.image_file(row);
  return resolve_image_path(image_root, store.image_path(row));
}

std::vector<std::string> paths_for_store(const std::vector<std::string>& paths, const std::string& store_path) {
  std::vector<std::string> relative;
  const std::string folder = std::filesystem::path(store_path).parent_path().string();
  for (const std::string& picture : paths) relative.push_back(path_relative_to(picture, folder));
  return relative;
}

nlohmann::json item_json(const CodeStore& store, int64_t row) {
  nlohmann::json item = {{"id", store.id(row)}, {"row", row}};
  if (store.has_paths()) item["path"] = store.image_file(row);
  return item;
}

nlohmann::json paths_json(const std::vector<GraphPath>& paths, const std::function<nlohmann::json(int64_t row)>& item) {
  nlohmann::json out = nlohmann::json::array();
  for (const GraphPath& p : paths) {
    nlohmann::json steps = nlohmann::json::array();
    int64_t total = 0;
    for (size_t s = 0; s < p.nodes.size(); ++s) {
      nlohmann::json step = item(p.nodes[s]);
      const int32_t distance = s == 0 ? 0 : p.steps[s - 1];
      total += distance;
      step["distance_from_previous"] = distance;
      step["distance_so_far"] = total;
      steps.push_back(step);
    }
    out.push_back({{"length", p.length}, {"steps", steps}});
  }
  return out;
}

void emit_json(const nlohmann::json& out, const std::string& file) {
  const std::string text = out.dump(2) + "\n";
  if (!file.empty()) write_file_atomically(file, text);
  std::fputs(text.c_str(), stdout);
}

void write_contact_sheet(const std::string& sheet, const std::vector<std::string>& files, int thumb, int columns,
                         const std::vector<int>& highlighted, const char* command, nlohmann::json& out) {
  std::vector<std::string> failures;
  save_png(sheet, contact_sheet(files, thumb, columns, highlighted, failures));
  out["sheet"] = sheet;
  out["unreadable_images"] = failures;
  for (const std::string& failure : failures) std::fprintf(stderr, "%s: %s (drawn as a crossed tile)\n", command, failure.c_str());
}

}  // namespace i2v
