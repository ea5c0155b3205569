// The inner block of the CPU Hamming k-NN (kernels/hamming_knn.cpp), in two versions: portable
// 64-bit popcounts, and AVX-512 VPOPCNTDQ (kernels/hamming_knn_avx512.cpp, compiled for that
// instruction set by function attributes and called only when the CPU has it).
//
// A group of 32 queries is stored transposed: word w of query lane l at group[w * 32 + l], so
// one 512-bit load holds word w of 8 queries and the 8 lanes of a vector accumulate 8 distances
// at once. Each database word is broadcast to all lanes; per (8 queries, 1 row, 1 word) the
// AVX-512 block does one XOR, one VPOPCNTQ and one add — the minimum for this instruction set.
// 32 queries × 6 rows = 24 accumulators, plus 4 query vectors and a broadcast, fit the 32
// vector registers, so nothing is reloaded within a word.
#pragma once

#include <cstdint>

namespace i2v::cpu::hamming {

constexpr int kGroupQueries = 32;
constexpr int kBlockRows = 6;

// Distances of the 32 queries of `group` to the 6 rows `rows[j]` (each `words` words long).
// masks[j] gets bit l set when the distance of query l to row j is below thresholds[l];
// distances[j][l] holds that distance at least wherever the bit is set.
using BlockKernel = void (*)(const uint64_t* group, const uint64_t* const* rows, int words,
                             const uint64_t* thresholds, uint32_t* masks, uint32_t (*distances)[kGroupQueries]);

void block_portable(const uint64_t* group, const uint64_t* const* rows, int words, const uint64_t* thresholds,
                    uint32_t* masks, uint32_t (*distances)[kGroupQueries]);
void block_avx512(const uint64_t* group, const uint64_t* const* rows, int words, const uint64_t* thresholds,
                  uint32_t* masks, uint32_t (*distances)[kGroupQueries]);
// True when the CPU (and the build) can run block_avx512.
bool avx512_supported();

}  // namespace i2v::cpu::hamming
