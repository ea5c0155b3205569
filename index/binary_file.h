// What the index's binary files (code stores, graphs) share: a 128-byte header that starts with
// an 8-byte magic and a 32-bit version and ends with the CRC-32 of the 124 bytes before it, then
// sections aligned to 64 bytes, each with its CRC-32 (base/crc32.h) in the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace i2v {

constexpr size_t kIndexHeaderBytes = 128;

inline uint64_t align64(uint64_t x) { return (x + 63) / 64 * 64; }

// Writes the header's CRC-32 into the last 4 bytes of the 128-byte `header`.
void seal_index_header(void* header);

// Checks the start of a file of `file_bytes` bytes whose first min(file_bytes, 128) bytes are in
// `header`: the magic (else "not a <kind>", with `how_to_make` as a hint), the size of the
// header (else "truncated"), the version (from `oldest_version`, 0: `version` only, up to
// `version`) and the header's CRC-32.
void check_index_header(const void* header, uint64_t file_bytes, const char (&magic)[8], uint32_t version,
                        const std::string& path, const char* kind, const char* how_to_make,
                        uint32_t oldest_version = 0);

// Checks that a file whose header says it is `expected` bytes long is exactly that long.
void check_index_file_size(uint64_t file_bytes, uint64_t expected, const std::string& path);

}  // namespace i2v
