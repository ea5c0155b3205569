// Random numbers that are the same on every machine: every draw is specified here (the
// standard library's distributions are not), so a seed replays a run exactly — initial
// weights, splits, shuffles, augmentations — and the generator's state can be saved in a
// checkpoint.
//   mix64 / mix_seed   SplitMix64's finaliser, a bijective 64-bit hash: seeds derived from
//                      (seed, epoch, index) look unrelated even for neighbouring inputs;
//   Rng                xoshiro256** seeded through SplitMix64; uniform doubles from the top 53
//                      bits, integers without modulo bias, normals by Box–Muller.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace i2v {

constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed derived from several values, each step hashed.
constexpr uint64_t mix_seed(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }
constexpr uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  // Uniform in [0, 1), and in [lo, hi).
  double uniform();
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), n > 0.
  uint64_t below(uint64_t n);
  bool coin() { return (next_u64() >> 63) != 0; }
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
