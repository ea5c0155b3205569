#include "nn/layers/flatten.h"

#include "base/error.h"

namespace i2v {

Shape Flatten::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const Shape& in = inputs[0];
  I2V_CHECK(in.size() >= 2, "{}: expects [N, ...] with at least 2 dimensions, got {}", describe(), shape_str(in));
  return {in[0], shape_numel(in) / (in[0] == 0 ? 1 : in[0])};
}

Tensor Flatten::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor y = inputs[0].reshape(output_shape({inputs[0].shape()}));
  clear_saved();
  if (mode == Mode::train) {
    input_shape_ = inputs[0].shape();
    output_ = TensorSignature::of(y);
  }
  return y;
}

std::vector<Tensor> Flatten::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  return {grad_output.reshape(input_shape_)};
}

}  // namespace i2v
