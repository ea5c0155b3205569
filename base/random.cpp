#include "base/random.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "base/error.h"

namespace i2v {

Rng::Rng(uint64_t seed) {
  for (uint64_t& word : s_) {
    seed += 0x9E3779B97F4A7C15ull;
    word = mix64(seed - 0x9E3779B97F4A7C15ull);
  }
}

uint64_t Rng::next_u64() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

uint64_t Rng::below(uint64_t n) {
  I2V_CHECK(n > 0, "Rng::below(0)");
  // Rejection keeps every value equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

double Rng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u1;
  do u1 = uniform();
  while (u1 <= 0.0);
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * M_PI * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::string Rng::save() const {
  uint64_t spare_bits;
  std::memcpy(&spare_bits, &spare_normal_, sizeof spare_bits);
  return fmt::format("xoshiro256** {} {} {} {} {} {}", s_[0], s_[1], s_[2], s_[3], int(has_spare_normal_), spare_bits);
}

Rng Rng::load(const std::string& text) {
  std::istringstream in(text);
  std::string kind;
  Rng rng;
  int has_spare = 0;
  uint64_t spare_bits = 0;
  in >> kind >> rng.s_[0] >> rng.s_[1] >> rng.s_[2] >> rng.s_[3] >> has_spare >> spare_bits;
  I2V_CHECK(in && kind == "xoshiro256**", "not a saved random generator state: '{}'", text);
  rng.has_spare_normal_ = has_spare != 0;
  std::memcpy(&rng.spare_normal_, &spare_bits, sizeof spare_bits);
  return rng;
}

bool Rng::operator==(const Rng& other) const {
  return s_ == other.s_ && has_spare_normal_ == other.has_spare_normal_ &&
         (!has_spare_normal_ || spare_normal_ == other.spare_normal_);
}

}  // namespace i2v
