#include "kernels/cpu_features.h"

#include <atomic>

namespace i2v {
namespace {

// What the CPU reports, asked once.
struct Hardware {
  bool avx512f = false, avx512_bf16 = false;
  Hardware() {
    __builtin_cpu_init();
    avx512f = __builtin_cpu_supports("avx512f") != 0;
    avx512_bf16 = avx512f && __builtin_cpu_supports("avx512bf16") != 0;
  }
};

const Hardware& hardware() {
  static const Hardware h;
  return h;
}

// Features switched off by a CpuFeatureOff.
std::atomic<bool> g_avx512f_off{false}, g_avx512_bf16_off{false};

std::atomic<bool>& off_flag(CpuFeature feature) {
  return feature == CpuFeature::avx512f ? g_avx512f_off : g_avx512_bf16_off;
}

}  // namespace

bool cpu_has_avx512f() { return hardware().avx512f && !g_avx512f_off.load(std::memory_order_relaxed); }

bool cpu_has_avx512_bf16() {
  return hardware().avx512_bf16 && cpu_has_avx512f() && !g_avx512_bf16_off.load(std::memory_order_relaxed);
}

CpuFeatureOff::CpuFeatureOff(CpuFeature feature) : feature_(feature), was_off_(off_flag(feature).exchange(true)) {}

CpuFeatureOff::~CpuFeatureOff() { off_flag(feature_).store(was_off_); }

}  // namespace i2v
