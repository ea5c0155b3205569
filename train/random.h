// Deterministic random numbers for data pipelines: the same seed gives the same numbers on every
// machine and standard library (std::uniform_int_distribution does not promise that), so splits,
// shuffles and augmentations replay exactly.
#pragma once

#include <cstdint>

namespace i2v {

// SplitMix64's finaliser: a bijective 64-bit hash whose outputs look independent.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed derived from several values (e.g. seed, epoch, sample index), each step hashed so that
// nearby inputs give unrelated seeds.
constexpr uint64_t mix_seed(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }
constexpr uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

// SplitMix64 generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), without modulo bias (rejection).
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }
  bool coin() { return (next() >> 63) != 0; }

 private:
  uint64_t state_;
};

// Shuffles [first, first + n) in place (Fisher–Yates) with `rng`.
template <typename T>
void shuffle(T* first, int64_t n, Rng& rng) {
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = int64_t(rng.below(uint64_t(i) + 1));
    T t = first[i];
    first[i] = first[j];
    first[j] = t;
  }
}

}  // namespace i2v
