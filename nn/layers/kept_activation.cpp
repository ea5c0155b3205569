#include "nn/layers/kept_activation.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/precision.h"

namespace i2v {

KeptActivation::KeptActivation(const Tensor& x) : signature_(TensorSignature::of(x)) {
  I2V_CHECK(x.is_contiguous(), "KeptActivation: a non-contiguous tensor {}", shape_str(x.shape()));
  const bool narrow = x.dtype() == DType::f32 && matmul_precision() == Precision::bf16;
  kept_ = narrow ? x.cast(DType::bf16) : x;
}

std::optional<TensorSignature> KeptActivation::whole_signature() const {
  std::optional<TensorSignature> whole = signature_;
  if (whole && whole->dtype == DType::bf16) whole->dtype = DType::f32;
  return whole;
}

Tensor KeptActivation::whole() const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  return widened(kept_);
}

const Tensor& KeptActivation::stored() const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  return kept_;
}

Tensor KeptActivation::samples(int64_t begin, int64_t end) const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  return widened(kept_.slice(0, begin, end));
}

void KeptActivation::for_each_piece(
    const std::function<void(int64_t begin, int64_t end, const Tensor& values)>& visit) const {
  I2V_CHECK(defined(), "KeptActivation: nothing was kept");
  const int64_t n = kept_.numel();
  const Tensor flat = kept_.view({n});
  if (kept_.dtype() != DType::bf16) {
    visit(0, n, flat);
    return;
  }
  i2v::for_each_piece(piece_elements(kept_.device()), n, 1,
                      [&](int64_t begin, int64_t end) { visit(begin, end, widened(flat.slice(0, begin, end))); });
}

int64_t piece_elements(Device device) { return device.is_cpu() ? int64_t(1) << 20 : int64_t(1) << 22; }

void for_each_piece(int64_t piece, int64_t units, int64_t unit_size,
                    const std::function<void(int64_t begin, int64_t end)>& visit) {
  I2V_CHECK(units >= 0 && unit_size > 0, "for_each_piece: {} units of {} elements", units, unit_size);
  const int64_t step = std::max<int64_t>(1, piece / unit_size);
  for (int64_t begin = 0; begin < units; begin += step) visit(begin, std::min(units, begin + step));
}

Tensor widened(const Tensor& x) { return x.dtype() == DType::bf16 ? x.cast(DType::f32) : x; }

}  // namespace i2v
