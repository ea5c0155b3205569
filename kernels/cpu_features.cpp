#include "kernels/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace i2v {
namespace {

// AMX: the CPU has the tiles and TDPBF16PS (CPUID leaf 7: EDX bits 24 and 22), the OS saves
// their state (XCR0 bits 17 and 18), and Linux grants this process the 8 KiB of tile data per
// thread, which it asks for once (tile instructions fault without it).
bool amx_bf16_usable() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1)) return false;  // OSXSAVE: xgetbv works
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool tile = (edx >> 24) & 1, bf16 = (edx >> 22) & 1;
  if (!tile || !bf16) return false;
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if ((xcr0_low & (3u << 17)) != (3u << 17)) return false;
  constexpr long kArchRequestXcompPermission = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchRequestXcompPermission, kXfeatureXtiledata) == 0;
}

// What the CPU reports, asked once.
struct Hardware {
  bool avx512f = false, avx512_bf16 = false, amx_bf16 = false;
  Hardware() {
    __builtin_cpu_init();
    avx512f = __builtin_cpu_supports("avx512f") != 0;
    avx512_bf16 = avx512f && __builtin_cpu_supports("avx512bf16") != 0;
    amx_bf16 = avx512f && amx_bf16_usable();
  }
};

const Hardware& hardware() {
  static const Hardware h;
  return h;
}

// Features switched off by a CpuFeatureOff.
std::atomic<bool> g_avx512f_off{false}, g_avx512_bf16_off{false}, g_amx_bf16_off{false};

std::atomic<bool>& off_flag(CpuFeature feature) {
  switch (feature) {
    case CpuFeature::avx512f: return g_avx512f_off;
    case CpuFeature::avx512_bf16: return g_avx512_bf16_off;
    case CpuFeature::amx_bf16: break;
  }
  return g_amx_bf16_off;
}

}  // namespace

bool cpu_has_avx512f() { return hardware().avx512f && !g_avx512f_off.load(std::memory_order_relaxed); }

bool cpu_has_avx512_bf16() {
  return hardware().avx512_bf16 && cpu_has_avx512f() && !g_avx512_bf16_off.load(std::memory_order_relaxed);
}

bool cpu_has_amx_bf16() {
  return hardware().amx_bf16 && cpu_has_avx512f() && !g_amx_bf16_off.load(std::memory_order_relaxed);
}

CpuFeatureOff::CpuFeatureOff(CpuFeature feature) : feature_(feature), was_off_(off_flag(feature).exchange(true)) {}

CpuFeatureOff::~CpuFeatureOff() { off_flag(feature_).store(was_off_); }

}  // namespace i2v
