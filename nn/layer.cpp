#include "nn/layer.h"

namespace i2v {

void Layer::to(Device device, DType dtype) {
  for (auto& [name, p] : parameters()) {
    p->value = p->value.cast(dtype).to(device);
    p->grad = p->grad.cast(dtype).to(device);
  }
  for (auto& [name, buffer] : buffers()) *buffer = buffer->cast(dtype).to(device);
  clear_saved();
}

void Layer::zero_grad() {
  for (auto& [name, p] : parameters()) p->grad.fill_(0.0);
}

Parameter make_parameter(const Shape& shape) {
  return Parameter{Tensor::zeros(shape), Tensor::zeros(shape), true};
}

}  // namespace i2v
