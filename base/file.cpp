#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace i2v {
namespace {

// One read() or write() moves at most this much: Linux caps a call just under 2 GiB, and macOS
// refuses more than INT_MAX bytes outright.
constexpr size_t kMaxBytesPerCall = size_t(1) << 30;

}  // namespace

File File::open_for_reading(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  I2V_CHECK(fd >= 0, "cannot open {}: {}", path, std::strerror(errno));
  return File(fd, path);
}

File File::create_new(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  I2V_CHECK(fd >= 0, "cannot create {}: {}", path, std::strerror(errno));
  return File(fd, path);
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

uint64_t File::size() const {
  struct stat status {};
  I2V_CHECK(::fstat(fd_, &status) == 0, "cannot stat {}: {}", path_, std::strerror(errno));
  return uint64_t(status.st_size);
}

bool File::is_regular_file() const {
  struct stat status {};
  I2V_CHECK(::fstat(fd_, &status) == 0, "cannot stat {}: {}", path_, std::strerror(errno));
  return S_ISREG(status.st_mode);
}

std::string File::read_all() {
  // The size is only where to start: a file may grow while it is read, and a pipe has none. One
  // byte more than it, so that the read which finds the end needs no larger buffer.
  std::string bytes(size_t(size()) + 1, '\0');
  size_t done = 0;
  for (;;) {
    if (done == bytes.size()) bytes.resize(2 * bytes.size());
    const ssize_t n = ::read(fd_, bytes.data() + done, std::min(bytes.size() - done, kMaxBytesPerCall));
    if (n < 0 && errno == EINTR) continue;
    I2V_CHECK(n >= 0, "cannot read {}: {}", path_, std::strerror(errno));
    if (n == 0) break;
    done += size_t(n);
  }
  bytes.resize(done);
  return bytes;
}

void File::read_exactly_at(uint64_t offset, void* out, size_t bytes) const {
  char* p = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, p, std::min(bytes, kMaxBytesPerCall), off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    I2V_CHECK(n >= 0, "cannot read {}: {}", path_, std::strerror(errno));
    I2V_CHECK(n > 0, "{}: the file ends at byte {}, before the {} bytes expected there (was it truncated?)", path_,
              offset, bytes);
    p += n;
    offset += uint64_t(n);
    bytes -= size_t(n);
  }
}

void File::write_all(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, std::min(bytes, kMaxBytesPerCall));
    if (n < 0 && errno == EINTR) continue;
    I2V_CHECK(n > 0, "cannot write {}: {}", path_, std::strerror(errno));
    p += n;
    bytes -= size_t(n);
  }
}

void File::seek(uint64_t offset) {
  I2V_CHECK(::lseek(fd_, off_t(offset), SEEK_SET) == off_t(offset), "cannot seek in {}: {}", path_, std::strerror(errno));
}

void File::flush_to_disk() {
  I2V_CHECK(::fsync(fd_) == 0, "cannot flush {}: {}", path_, std::strerror(errno));
}

void File::close() {
  const int fd = std::exchange(fd_, -1);
  I2V_CHECK(::close(fd) == 0, "cannot close {}: {}", path_, std::strerror(errno));
}

std::string read_file(const std::string& path, std::optional<uint64_t> max_bytes) {
  File file = File::open_for_reading(path);
  if (max_bytes) {
    I2V_CHECK(file.is_regular_file(), "{} is not a regular file", path);
    const uint64_t bytes = file.size();
    I2V_CHECK(bytes <= *max_bytes, "{} is {} bytes, more than the {} this reader accepts", path, bytes, *max_bytes);
  }
  return file.read_all();
}

}  // namespace i2v
