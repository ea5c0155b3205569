#include "kernels/precision.h"

#include <atomic>

#include "base/enum_names.h"

namespace i2v {
namespace {

std::atomic<Precision> g_precision{Precision::tf32};

}  // namespace

Precision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }

void set_matmul_precision(Precision precision) { g_precision.store(precision, std::memory_order_relaxed); }

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  return parse_enum(name, {Precision::fp32, Precision::tf32, Precision::bf16}, precision_name, "precision");
}

}  // namespace i2v
