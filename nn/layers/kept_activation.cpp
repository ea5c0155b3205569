#include "nn/layers/kept_activation.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/precision.h"

namespace i2v {

namespace {
// Elements widened at a time: 4 Mi (16 MiB of f32), a small fraction of the largest activations
// (VGG's first at 224×224 batch 64 has 205 Mi: ~50 pieces).
constexpr int64_t kPieceElements = int64_t(1) << 22;
}  // namespace

KeptActivation::KeptActivation(const Tensor& x) : signature_(TensorSignature::of(x)) {
  I2V_CHECK(x.is_contiguous(), "KeptActivation: a non-contiguous tensor {}", shape_str(x.shape()));
  const bool narrow = x.dtype() == DType::f32 && matmul_precision() == Precision::bf16;
  kept_ = narrow ? x.cast(DType::bf16) : x;
}

Tensor KeptActivation::whole() const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  return kept_.cast(signature_->dtype);
}

void KeptActivation::for_each_piece(
    const std::function<void(int64_t begin, int64_t end, const Tensor& values)>& visit) const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  const int64_t n = kept_.numel();
  const Tensor flat = kept_.view({n});
  if (kept_.dtype() == signature_->dtype) {
    visit(0, n, flat);
    return;
  }
  for (int64_t begin = 0; begin < n; begin += kPieceElements) {
    const int64_t end = std::min(n, begin + kPieceElements);
    visit(begin, end, flat.slice(0, begin, end).cast(signature_->dtype));
  }
}

}  // namespace i2v
