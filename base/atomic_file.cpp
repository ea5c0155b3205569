#include "base/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "base/error.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

constexpr char kTemporaryMarker[] = ".tmp.";

// The rename itself is durable once the directory is flushed; where the directory cannot be
// opened (no read permission) the file is still whole, only its name may be lost in a crash.
void flush_directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// "<target>.tmp.<pid>.<random>" -> target and pid; false for any other name. The marker is the
// last one in the name: what follows it is digits only.
bool parse_temporary_name(const std::string& name, std::string* target, pid_t* pid) {
  const size_t marker_at = name.rfind(kTemporaryMarker);
  if (marker_at == std::string::npos) return false;
  const size_t pid_at = marker_at + std::strlen(kTemporaryMarker), dot = name.find('.', pid_at);
  if (dot == std::string::npos) return false;
  const std::string pid_text = name.substr(pid_at, dot - pid_at);
  if (!all_digits(pid_text) || pid_text.size() > 9 || !all_digits(name.substr(dot + 1))) return false;
  *target = name.substr(0, marker_at);
  *pid = pid_t(std::stol(pid_text));
  return true;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(File& file)>& write) {
  // The rename would replace whatever entry has the name: only a regular file may be replaced
  // (commands refuse the rest up front, base/command_files.h; this is the last line of defence).
  struct stat status {};
  I2V_CHECK(::lstat(path.c_str(), &status) != 0 || S_ISREG(status.st_mode),
            "{} is not a regular file (a link, folder, device or FIFO): i2v replaces only regular files", path);
  const std::string temporary = fmt::format("{}{}{}.{}", path, kTemporaryMarker, ::getpid(), std::random_device{}());
  File file = File::create_new(temporary);
  try {
    write(file);
    file.flush_to_disk();
    file.close();
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    I2V_THROW("cannot rename {} to {}: {}", temporary, path, std::strerror(error));
  }
  flush_directory_of(path);
}

void write_file_atomically(const std::string& path, const void* data, size_t bytes) {
  write_file_atomically(path, [&](File& file) { file.write_all(data, bytes); });
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(path, contents.data(), contents.size());
}

void remove_abandoned_temporaries(const std::string& directory,
                                  const std::function<bool(const std::string& target_name)>& is_target) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    std::string target;
    pid_t pid = 0;
    if (!parse_temporary_name(entry.path().filename().string(), &target, &pid) || !is_target(target)) continue;
    std::error_code ignored;  // another process may remove it first
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ignored);
  }
}

}  // namespace i2v
