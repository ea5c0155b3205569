// A small random generator whose every draw is specified here, so a seed gives the same numbers
// with any compiler and standard library (std::normal_distribution does not promise that), and
// whose state a checkpoint can save: xoshiro256** seeded through splitmix64, uniform doubles
// from the top 53 bits, normals by Box–Muller.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace i2v {

// One step of splitmix64: a good 64-bit hash of x (also used to derive seeds).
uint64_t splitmix64(uint64_t x);

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  // Uniform in [0, 1).
  double uniform();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);
  // Standard normal.
  double normal();

  // The whole state as text (for checkpoints) and back.
  std::string save() const;
  static Rng load(const std::string& text);
  bool operator==(const Rng& other) const;

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_normal_ = false;
  double spare_normal_ = 0;
};

}  // namespace i2v
