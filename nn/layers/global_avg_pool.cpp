#include "nn/layers/global_avg_pool.h"

#include "base/error.h"
#include "kernels/pool.h"

namespace i2v {

Shape GlobalAvgPool::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  check_rank(*this, inputs[0], 4, "NCHW");
  I2V_CHECK(inputs[0][2] * inputs[0][3] > 0, "{}: empty planes in {}", describe(), shape_str(inputs[0]));
  return {inputs[0][0], inputs[0][1]};
}

// One add per element.
int64_t GlobalAvgPool::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

Tensor GlobalAvgPool::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Shape out_shape = output_shape({inputs[0].shape()});
  const Tensor x = inputs[0].contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), global_avg_pool_forward, x.data<scalar_t>(), y.numel(),
                        x.size(2) * x.size(3), y.data<scalar_t>());
  clear_saved();
  if (mode == Mode::train) {
    input_shape_ = x.shape();
    output_ = TensorSignature::of(y);
  }
  return y;
}

std::vector<Tensor> GlobalAvgPool::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  const Shape& in = input_shape_;
  Tensor dx = Tensor::empty(in, dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), global_avg_pool_backward, dy.data<scalar_t>(), dy.numel(),
                        in[2] * in[3], dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
