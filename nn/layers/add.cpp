#include "nn/layers/add.h"

#include "kernels/add.h"
#include "base/error.h"

namespace i2v {

Shape Add::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 2);
  I2V_CHECK(inputs[0] == inputs[1], "{}: inputs of shapes {} and {}", describe(), shape_str(inputs[0]),
            shape_str(inputs[1]));
  return inputs[0];
}

// One add per element.
int64_t Add::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

Tensor Add::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 2);
  output_shape({inputs[0].shape(), inputs[1].shape()});
  const Tensor a = inputs[0].contiguous(), b = inputs[1].contiguous();
  I2V_CHECK(a.device() == b.device() && a.dtype() == b.dtype(), "{}: inputs {} on {} and {} on {}", describe(),
            dtype_name(a.dtype()), a.device().name(), dtype_name(b.dtype()), b.device().name());
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  I2V_DISPATCH_FLOATING(a.device(), a.dtype(), add_forward, a.data<scalar_t>(), b.data<scalar_t>(), y.data<scalar_t>(),
                        a.numel());
  output_.reset();
  if (mode == Mode::train) output_ = TensorSignature::of(y);
  return y;
}

std::vector<Tensor> Add::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  const bool first = need_input_grad.at(0), second = need_input_grad.at(1);
  return {first ? grad_output : Tensor(), second ? (first ? grad_output.clone() : grad_output) : Tensor()};
}

}  // namespace i2v
