#include "index/checksum.h"

#include <algorithm>
#include <cstring>

namespace i2v {
namespace {

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t mix_word(uint64_t lane, uint64_t word) { return rotl(lane + word * kPrime2, 31) * kPrime1; }

uint64_t load_word(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

}  // namespace

void Checksum::stripe(const uint8_t* data) {
  for (int lane = 0; lane < 4; ++lane) lanes_[lane] = mix_word(lanes_[lane], load_word(data + 8 * lane));
}

void Checksum::update(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_bytes_ += bytes;
  if (pending_bytes_ > 0) {
    const size_t take = std::min(bytes, sizeof pending_ - pending_bytes_);
    std::memcpy(pending_ + pending_bytes_, p, take);
    pending_bytes_ += take;
    p += take;
    bytes -= take;
    if (pending_bytes_ < sizeof pending_) return;
    stripe(pending_);
    pending_bytes_ = 0;
  }
  for (; bytes >= sizeof pending_; p += sizeof pending_, bytes -= sizeof pending_) stripe(p);
  std::memcpy(pending_, p, bytes);
  pending_bytes_ = bytes;
}

uint64_t Checksum::digest() const {
  uint64_t h = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
  h ^= total_bytes_ * kPrime3;
  for (size_t i = 0; i < pending_bytes_; ++i) h = rotl(h ^ (pending_[i] * kPrime1), 11) * kPrime2;
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  return h ^ (h >> 32);
}

uint64_t checksum(const void* data, size_t bytes) {
  Checksum sum;
  sum.update(data, bytes);
  return sum.digest();
}

}  // namespace i2v
