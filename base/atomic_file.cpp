#include "base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "base/error.h"

namespace i2v {

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    I2V_CHECK(n > 0, "cannot write {}: {}", path, std::strerror(errno));
    p += n;
    bytes -= size_t(n);
  }
}

void write_file_atomically(const std::string& path, const std::function<void(int fd)>& write) {
  const std::string temporary = fmt::format("{}.tmp.{}.{}", path, ::getpid(), std::random_device{}());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  I2V_CHECK(fd >= 0, "cannot create {}: {}", temporary, std::strerror(errno));
  try {
    write(fd);
    I2V_CHECK(::fsync(fd) == 0, "cannot flush {}: {}", temporary, std::strerror(errno));
    I2V_CHECK(::close(fd) == 0, "cannot close {}: {}", temporary, std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    I2V_THROW("cannot rename {} to {}: {}", temporary, path, std::strerror(error));
  }
  // The rename itself is durable once the directory is flushed.
  const size_t slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void write_file_atomically(const std::string& path, const void* data, size_t bytes) {
  write_file_atomically(path, [&](int fd) { write_all(fd, data, bytes, path); });
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(path, contents.data(), contents.size());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  I2V_CHECK(in.good(), "cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream contents;
  contents << in.rdbuf();
  I2V_CHECK(!in.bad(), "cannot read {}", path);
  return contents.str();
}

}  // namespace i2v
