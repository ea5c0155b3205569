// The AVX-512 VPOPCNTDQ block of the CPU Hamming k-NN (see hamming_knn_cpu.h). The function is
// compiled for AVX-512F + VPOPCNTDQ by its target attribute, whatever the flags of the build,
// and only called after avx512_supported() said the CPU has them.
#include "kernels/hamming_knn_cpu.h"

#include "base/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace i2v::cpu::hamming {

#if defined(__x86_64__)

bool avx512_supported() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
}

__attribute__((target("avx512f,avx512vpopcntdq"))) void block_avx512(
    const uint64_t* group, const uint64_t* const* rows, int words, const uint64_t* thresholds, uint32_t* masks,
    uint32_t (*distances)[kGroupQueries]) {
  constexpr int kVectors = kGroupQueries / 8;
  __m512i acc[kBlockRows][kVectors];
  for (int j = 0; j < kBlockRows; ++j)
    for (int v = 0; v < kVectors; ++v) acc[j][v] = _mm512_setzero_si512();
  for (int w = 0; w < words; ++w) {
    __m512i queries[kVectors];
    for (int v = 0; v < kVectors; ++v) queries[v] = _mm512_loadu_si512(group + w * kGroupQueries + 8 * v);
    for (int j = 0; j < kBlockRows; ++j) {
      const __m512i row_word = _mm512_set1_epi64(static_cast<long long>(rows[j][w]));
      for (int v = 0; v < kVectors; ++v)
        acc[j][v] = _mm512_add_epi64(acc[j][v], _mm512_popcnt_epi64(_mm512_xor_si512(queries[v], row_word)));
    }
  }
  uint32_t any = 0;
  for (int j = 0; j < kBlockRows; ++j) {
    uint32_t mask = 0;
    for (int v = 0; v < kVectors; ++v)
      mask |= uint32_t(_mm512_cmplt_epu64_mask(acc[j][v], _mm512_loadu_si512(thresholds + 8 * v))) << (8 * v);
    masks[j] = mask;
    any |= mask;
  }
  if (any == 0) return;  // the common case once the lists are full: nothing to store
  for (int j = 0; j < kBlockRows; ++j)
    for (int v = 0; v < kVectors; ++v)
      _mm512_mask_cvtepi64_storeu_epi32(&distances[j][8 * v], 0xFF, acc[j][v]);
}

#else

bool avx512_supported() { return false; }

void block_avx512(const uint64_t*, const uint64_t* const*, int, const uint64_t*, uint32_t*, uint32_t (*)[kGroupQueries]) {
  I2V_THROW("the AVX-512 Hamming block needs an x86-64 build");
}

#endif

}  // namespace i2v::cpu::hamming
