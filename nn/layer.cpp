#include "nn/layer.h"

#include "base/error.h"

namespace i2v {

void Layer::to(Device device, DType dtype) {
  for (auto& [name, p] : parameters()) {
    p->value = p->value.cast(dtype).to(device);
    p->grad = p->grad.cast(dtype).to(device);
  }
  // Integer buffers (BatchNorm's num_batches_tracked) are counts: they move but keep their dtype.
  for (auto& [name, buffer] : buffers()) {
    const bool floating = buffer->dtype() == DType::f32 || buffer->dtype() == DType::f64;
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
