#include "nn/layer.h"

#include "base/error.h"

namespace i2v {

void Layer::to(Device device, DType dtype) {
  I2V_CHECK(dtype == DType::f32 || dtype == DType::f64,
            "{}: parameters cannot be {}: layers compute and keep their weights in f32 (f64 on the cpu); "
            "bf16 is for storing weights (i2v weights convert) and for the matrix products' operands "
            "(--precision bf16)",
            describe(), dtype_name(dtype));
  for (auto& [name, p] : parameters()) {
    p->value = p->value.cast(dtype).to(device);
    p->grad = p->grad.cast(dtype).to(device);
  }
  // Integer buffers (BatchNorm's num_batches_tracked) are counts: they move but keep their dtype.
  for (auto& [name, buffer] : buffers()) {
    const bool floating = is_floating(buffer->dtype());
    *buffer = (floating ? buffer->cast(dtype) : *buffer).to(device);
  }
  clear_saved();
}

void Layer::set_random_state(const std::vector<uint64_t>& state) {
  I2V_CHECK(state.empty(), "{}: has no random generator, but a state of {} numbers was given", describe(), state.size());
}

void Layer::zero_grad() {
  for (auto& [name, p] : parameters()) p->grad.fill_(0.0);
}

Parameter make_parameter(const Shape& shape) {
  return Parameter{Tensor::zeros(shape), Tensor::zeros(shape), true};
}

}  // namespace i2v
