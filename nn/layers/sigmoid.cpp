#include "nn/layers/sigmoid.h"

#include "kernels/activation.h"
#include "nn/layers/checks.h"

namespace i2v {

Shape Sigmoid::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  return inputs[0];
}

// An exp, an add and a division per element, counted as 4 (exp as 2).
int64_t Sigmoid::forward_flops(const std::vector<Shape>& inputs) const { return 4 * shape_numel(inputs[0]); }

Tensor Sigmoid::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), sigmoid_forward, x.data<scalar_t>(), y.data<scalar_t>(), x.numel());
  output_ = mode == Mode::train ? y : Tensor();
  return y;
}

std::vector<Tensor> Sigmoid::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), sigmoid_backward, output_.data<scalar_t>(), dy.data<scalar_t>(),
                        dx.data<scalar_t>(), dy.numel());
  return {dx};
}

}  // namespace i2v
