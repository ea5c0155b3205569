// A 64-bit checksum that detects corrupted index files (not a cryptographic hash).
//
// The data is read as 32-byte stripes of four little-endian 64-bit words, one per lane; each
// lane takes its word in xxHash64's round (add word · P2, rotate by 31, multiply by P1), so the
// four multiply chains run in parallel at several GB/s. The tail and the length are mixed in at
// the end. The value is stable across runs and machines, but it is not xxHash64's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace i2v {

class Checksum {
 public:
  // Feeds the next `bytes` of the stream; the result does not depend on how it is split.
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  void stripe(const uint8_t* data);

  uint64_t lanes_[4] = {0x9E3779B185EBCA87ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                        0x85EBCA77C2B2AE63ull};
  uint8_t pending_[32] = {};
  size_t pending_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

uint64_t checksum(const void* data, size_t bytes);

}  // namespace i2v
