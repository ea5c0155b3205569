#include "base/command_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "base/error.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

std::optional<struct stat> status_of(const std::string& path, bool follow_links) {
  struct stat status {};
  const int result = follow_links ? ::stat(path.c_str(), &status) : ::lstat(path.c_str(), &status);
  if (result != 0) return std::nullopt;
  return status;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

// The folder a new file at `path` goes into ("." for a bare name).
fs::path parent_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Whether `folder` (its status) is `path`'s parent, grandparent, ... Links in the path are
// followed, so another spelling of the folder is the folder.
bool is_inside(const std::string& path, const struct stat& folder) {
  std::error_code error;
  fs::path at = fs::weakly_canonical(fs::absolute(path, error), error);
  if (error) return false;
  while (at.has_relative_path()) {
    at = at.parent_path();
    const std::optional<struct stat> status = status_of(at.string(), true);
    if (status && same_file(*status, folder)) return true;
  }
  return false;
}

// A file in `folder` (at any depth) that `reads` accepts and that is the file `target` is.
std::optional<std::string> find_in_folder(const std::string& folder, const std::function<bool(const std::string&)>& reads,
                                          const struct stat& target) {
  std::error_code error;
  for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (!it->is_regular_file(error) || (reads && !reads(it->path().filename().string()))) continue;
    const std::optional<struct stat> status = status_of(it->path().string(), true);
    if (status && same_file(*status, target)) return it->path().string();
  }
  return std::nullopt;
}

// Refuses a folder that is missing and cannot be made, or that cannot be written into.
void check_writable_folder(const std::string& option, const std::string& path, const fs::path& folder) {
  fs::path existing = folder;
  std::error_code error;
  while (!fs::exists(existing, error) && existing.has_relative_path() && existing.has_parent_path())
    existing = existing.parent_path();
  if (!fs::exists(existing, error)) existing = ".";
  const std::optional<struct stat> status = status_of(existing.string(), true);
  I2V_CHECK(status && S_ISDIR(status->st_mode), "{} {}: {} is {}, not a folder", option, path, existing.string(),
            status ? kind_of(status->st_mode) : "unreadable");
  I2V_CHECK(::access(existing.c_str(), W_OK | X_OK) == 0, "{} {}: cannot write into the folder {}: {}", option, path,
            existing.string(), std::strerror(errno));
}

// The file `path` names once its missing folders are made: the existing part of its folder with
// links resolved, the missing part read as written ("new/../x" is "x" once new/ exists), and its
// own name (not followed: a link there is refused, not written through).
std::string effective_path(const std::string& path) {
  std::error_code error;
  const fs::path name = fs::path(path).filename();
  if (name.empty() || name == "." || name == "..") return path;  // a folder: refused as one
  const fs::path folder = fs::weakly_canonical(fs::absolute(parent_of(path), error), error);
  return error ? path : (folder / name).string();
}

void make_folder(const std::string& option, const std::string& path, const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  I2V_CHECK(!error, "{} {}: cannot make the folder {}: {}", option, path, folder.string(), error.message());
}

}  // namespace

CommandFiles& CommandFiles::input(const std::string& option, const std::string& path,
                                  std::function<bool(const std::string& file_name)> reads) {
  if (!path.empty()) inputs_.push_back({option, path, std::move(reads)});
  return *this;
}

CommandFiles& CommandFiles::output(const std::string& option, const std::string& path, Existing existing) {
  if (!path.empty()) outputs_.push_back({option, path, existing, false});
  return *this;
}

CommandFiles& CommandFiles::output_folder(const std::string& option, const std::string& path) {
  if (!path.empty()) outputs_.push_back({option, path, Existing::replace, true});
  return *this;
}

void CommandFiles::check_output(const Output& out, bool force) const {
  const std::string target = out.folder ? out.path : effective_path(out.path);
  const std::optional<struct stat> found = status_of(target, false);
  if (!found) {
    I2V_CHECK(errno == ENOENT || errno == ENOTDIR, "{} {}: cannot check it: {}", out.option, out.path, std::strerror(errno));
    check_writable_folder(out.option, out.path, out.folder ? fs::path(out.path) : parent_of(out.path));
    return;
  }
  if (out.folder) {
    const std::optional<struct stat> target = status_of(out.path, true);
    I2V_CHECK(target && S_ISDIR(target->st_mode), "{} {}: is {}, not a folder", out.option, out.path,
              target ? kind_of(target->st_mode) : "a link to nothing");
    I2V_CHECK(::access(out.path.c_str(), W_OK | X_OK) == 0, "{} {}: cannot write into it: {}", out.option, out.path,
              std::strerror(errno));
    return;
  }
  const struct stat& status = *found;
  I2V_CHECK(!S_ISLNK(status.st_mode),
            "{} {}: is a symbolic link; i2v writes an output only as a regular file, never through a link (give the "
            "path it points to, or remove the link)", out.option, out.path);
  I2V_CHECK(!S_ISDIR(status.st_mode), "{} {}: is a folder; give the name of the file to write", out.option, out.path);
  I2V_CHECK(S_ISREG(status.st_mode),
            "{} {}: is {}; i2v writes an output only as a regular file, never into a device, FIFO or socket (write a "
            "file, then copy it there)", out.option, out.path, kind_of(status.st_mode));
  for (const Input& in : inputs_) {
    const std::optional<struct stat> input = status_of(in.path, true);
    if (!input) continue;
    if (!S_ISDIR(input->st_mode)) {
      I2V_CHECK(!same_file(*input, status), "{} {} is {} {}{}, which this command reads: write the output to another file",
                out.option, out.path, in.option, in.path, in.path == out.path ? "" : " (the same file)");
      continue;
    }
    const std::string name = fs::path(out.path).filename().string();
    I2V_CHECK(!(is_inside(target, *input) && (!in.reads || in.reads(name))),
              "{} {} is a file inside {} {}, which this command reads: write the output to another file", out.option,
              out.path, in.option, in.path);
    if (status.st_nlink > 1) {  // a hard link to one of the folder's files?
      const std::optional<std::string> linked = find_in_folder(in.path, in.reads, status);
      I2V_CHECK(!linked, "{} {} is {} (a hard link to it), which this command reads from {} {}: write the output to "
                "another file", out.option, out.path, linked.value_or(""), in.option, in.path);
    }
  }
  I2V_CHECK(out.existing == Existing::replace || force, "{} {} exists: add --force to replace it", out.option,
            out.path);
  check_writable_folder(out.option, out.path, parent_of(out.path));
}

void CommandFiles::check(bool force) const {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    check_output(outputs_[i], force);
    const std::string target = effective_path(outputs_[i].path);
    for (size_t j = 0; j < i; ++j)
      I2V_CHECK(outputs_[j].folder || outputs_[i].folder || effective_path(outputs_[j].path) != target,
                "{} and {} both name {}: give each output its own file", outputs_[j].option, outputs_[i].option,
                outputs_[i].path);
  }
  // Every output passed: now the folders they go into.
  for (const Output& out : outputs_) make_folder(out.option, out.path, out.folder ? fs::path(out.path) : parent_of(out.path));
}

}  // namespace i2v
