#include "nn/layers/relu.h"

#include "kernels/activation.h"
#include "kernels/error.h"
#include "nn/layers/checks.h"

namespace i2v {

Shape ReLU::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  return inputs[0];
}

int64_t ReLU::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

Tensor ReLU::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), relu_forward, x.data<scalar_t>(), y.data<scalar_t>(), x.numel());
  input_ = mode == Mode::train ? x : Tensor();
  return y;
}

std::vector<Tensor> ReLU::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), relu_backward, input_.data<scalar_t>(), dy.data<scalar_t>(),
                        dx.data<scalar_t>(), dy.numel());
  return {dx};
}

}  // namespace i2v
