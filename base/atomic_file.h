// Writing a file so that readers only ever see the old or the new contents, never a torn mix,
// even if the process is killed or the machine loses power mid-write: write a temporary file
// beside the target, fsync it, rename it over the target, fsync the directory.
//
// Only a regular file (or nothing) may be at the target: a symlink, folder, device or FIFO there
// is refused, never replaced or written through (base/command_files.h is the rule commands check
// before their work; this is the last line of defence).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "base/file.h"

namespace i2v {

// Calls `write(file)` to fill a temporary file next to `path`, then makes it `path` atomically.
// `write` returns normally when all bytes are written; any exception leaves `path` untouched.
void write_file_atomically(const std::string& path, const std::function<void(File& file)>& write);
void write_file_atomically(const std::string& path, const void* data, size_t bytes);
void write_file_atomically(const std::string& path, const std::string& contents);

// A killed writer leaves its temporary behind ("<target>.tmp.<pid>.<random>"), never to be
// renamed. Removes those in `directory` whose target's file name `is_target` accepts and whose
// process is gone (not this one, and not one that is still running: it may be writing).
void remove_abandoned_temporaries(const std::string& directory,
                                  const std::function<bool(const std::string& target_name)>& is_target);

}  // namespace i2v
