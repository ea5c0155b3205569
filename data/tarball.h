// Reading files out of a .tgz / .tar.gz (or plain .tar) archive, such as the packages `npm pack`
// downloads, without unpacking it on disk. The archive is streamed through zlib; only the files
// asked for are kept in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace i2v {

// The regular files of the archive at `path` whose names `wanted` accepts: name -> contents.
// Throws naming the archive when it is not a gzip-compressed or plain tar archive, or is cut off.
std::map<std::string, std::string> read_tarball(const std::string& path,
                                                const std::function<bool(const std::string& name)>& wanted);

// A tar header's fields, for the readers here and in data/shards.h: a number written in octal
// (leading spaces allowed), and whether the 512-byte header's checksum (its bytes summed with the
// checksum field read as spaces) is the one it records.
uint64_t tar_octal(const char* field, size_t length);
bool tar_checksum_matches(const char* header);

}  // namespace i2v
