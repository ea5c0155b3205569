#include "base/relative_path.h"

#include <filesystem>

namespace i2v {
namespace {

namespace fs = std::filesystem;

// The physical absolute path (links resolved as far as the path exists): ".." then means the
// folder above on the disk, as the kernel reads it, also where a folder is a link.
fs::path physical(const fs::path& path) {
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  const fs::path resolved = fs::weakly_canonical(absolute, error);
  return error ? absolute.lexically_normal() : resolved;
}

}  // namespace

std::string path_relative_to(const std::string& path, const std::string& folder) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  const fs::path relative = physical(path).lexically_relative(physical(folder.empty() ? "." : folder));
  return relative.empty() ? physical(path).string() : relative.string();
}

std::string path_resolved_from(const std::string& path, const std::string& folder) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  const fs::path absolute = (physical(folder.empty() ? "." : folder) / path).lexically_normal();
  // Relative stays relative (to the current directory, from where it is used), so that writing
  // it into another file keeps it relative there too.
  const fs::path relative = absolute.lexically_relative(physical("."));
  return relative.empty() ? absolute.string() : relative.string();
}

}  // namespace i2v
