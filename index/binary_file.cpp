#include "index/binary_file.h"

#include <algorithm>
#include <cstring>

#include "base/crc32.h"
#include "base/error.h"

namespace i2v {

namespace {
constexpr size_t kChecksumOffset = kIndexHeaderBytes - 4;
}

void seal_index_header(void* header) {
  const uint32_t crc = crc32_of(header, kChecksumOffset);
  std::memcpy(static_cast<char*>(header) + kChecksumOffset, &crc, 4);
}

void check_index_header(const void* header, uint64_t file_bytes, const char (&magic)[8], uint32_t version,
                        const std::string& path, const char* kind, const char* how_to_make,
                        uint32_t oldest_version) {
  const char* bytes = static_cast<const char*>(header);
  I2V_CHECK(std::memcmp(bytes, magic, std::min<uint64_t>(sizeof magic, file_bytes)) == 0,
            "{}: not an i2v {} (bad magic; {})", path, kind, how_to_make);
  I2V_CHECK(file_bytes >= kIndexHeaderBytes, "{}: truncated: {} bytes, shorter than the {}-byte header", path,
            file_bytes, kIndexHeaderBytes);
  uint32_t file_version, stored_crc;
  std::memcpy(&file_version, bytes + 8, 4);
  std::memcpy(&stored_crc, bytes + kChecksumOffset, 4);
  if (oldest_version == 0) oldest_version = version;
  I2V_CHECK(file_version >= oldest_version && file_version <= version, "{}: {} version {}; this build reads version {}",
            path, kind, file_version, oldest_version == version ? std::to_string(version)
                                                                 : fmt::format("{} to {}", oldest_version, version));
  I2V_CHECK(stored_crc == crc32_of(bytes, kChecksumOffset), "{}: header checksum mismatch (the file is corrupted)",
            path);
}

void check_index_file_size(uint64_t file_bytes, uint64_t expected, const std::string& path) {
  I2V_CHECK(file_bytes >= expected, "{}: truncated: {} bytes of {}", path, file_bytes, expected);
  I2V_CHECK(file_bytes == expected, "{}: {} bytes, but the header says {} (data after the end)", path, file_bytes,
            expected);
}

}  // namespace i2v
