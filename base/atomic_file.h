// Writing a file so that readers only ever see the old or the new contents, never a torn mix,
// even if the process is killed or the machine loses power mid-write: write a temporary file
// beside the target, fsync it, rename it over the target, fsync the directory.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace i2v {

// Calls `write(fd)` to fill a temporary file next to `path`, then makes it `path` atomically.
// `write` returns normally when all bytes are written; any exception leaves `path` untouched.
void write_file_atomically(const std::string& path, const std::function<void(int fd)>& write);
void write_file_atomically(const std::string& path, const void* data, size_t bytes);
void write_file_atomically(const std::string& path, const std::string& contents);

// Writes all `bytes` to `fd` (retrying short writes); throws with `path` in the message on error.
void write_all(int fd, const void* data, size_t bytes, const std::string& path);

// The whole file; throws i2v::Error naming the file and the reason.
std::string read_file(const std::string& path);

}  // namespace i2v
