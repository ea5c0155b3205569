// Files as bytes: an open file that closes itself, and reads and writes that finish the job or
// throw.
//
// The POSIX calls may do less than asked: read() and write() can move fewer bytes than requested
// (a pipe, a signal, a 2 GiB cap per call) and fail with EINTR when a signal arrives first. Every
// loop that retries them lives here, once; the rest of i2v asks for "all of it" and gets either
// all of it or an i2v::Error that names the file and the reason (strerror's text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace i2v {

class File {
 public:
  // Opens `path` for reading; throws "cannot open <path>: <reason>".
  static File open_for_reading(const std::string& path);
  // Creates `path` for writing (mode 0644); throws when it exists already or cannot be made.
  static File create_new(const std::string& path);

  ~File();  // closes the file without checking: use close() where a failed close matters
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  // The open file descriptor, for calls this class does not wrap (mmap).
  int descriptor() const { return fd_; }
  // Its size now, and whether it is a regular file (not a directory, pipe or device).
  uint64_t size() const;
  bool is_regular_file() const;

  // Everything from the current position to the end of the file (also of a pipe).
  std::string read_all();
  // Exactly `bytes` bytes starting `offset` bytes into the file; throws when the file ends first.
  void read_exactly_at(uint64_t offset, void* out, size_t bytes) const;
  // Writes all `bytes` at the current position.
  void write_all(const void* data, size_t bytes);
  // Moves the current position to `offset` bytes from the start.
  void seek(uint64_t offset);
  // Waits until what was written is on the disk (fsync).
  void flush_to_disk();
  // Closes now, and throws if closing fails (a write the disk refused can first show here).
  void close();

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::string path_;
};

// The whole file, or an i2v::Error naming it and the reason. With `max_bytes`, the file must
// also be a regular file of at most that many bytes; both are checked before anything is read
// (a pipe has no size to check), so that a huge file is refused at once.
std::string read_file(const std::string& path, std::optional<uint64_t> max_bytes = std::nullopt);

}  // namespace i2v
