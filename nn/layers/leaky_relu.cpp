#include "nn/layers/leaky_relu.h"

#include <fmt/format.h>

#include "kernels/activation.h"
#include "nn/layers/checks.h"

namespace i2v {

std::string LeakyReLU::describe() const { return fmt::format("leaky_relu {:g}", slope_); }

Shape LeakyReLU::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  return inputs[0];
}

// One multiply per element.
int64_t LeakyReLU::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

Tensor LeakyReLU::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), leaky_relu_forward, x.data<scalar_t>(), y.data<scalar_t>(), x.numel(),
                        scalar_t(slope_));
  input_ = mode == Mode::train ? x : Tensor();
  return y;
}

std::vector<Tensor> LeakyReLU::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), leaky_relu_backward, input_.data<scalar_t>(), dy.data<scalar_t>(),
                        dx.data<scalar_t>(), dy.numel(), scalar_t(slope_));
  return {dx};
}

}  // namespace i2v
