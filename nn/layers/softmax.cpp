#include "nn/layers/softmax.h"

#include "base/error.h"
#include "kernels/softmax.h"
#include "nn/layers/checks.h"

namespace i2v {
namespace {

// [outer, channels, inner] of a tensor reduced over dim 1.
struct ChannelView {
  int64_t outer, channels, inner;
};

ChannelView channel_view(const Shape& shape) {
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  return {shape[0], shape[1], inner};
}

}  // namespace

Shape Softmax::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  I2V_CHECK(inputs[0].size() >= 2, "{}: expects [N, C] or [N, C, ...], got {}", describe(), shape_str(inputs[0]));
  return inputs[0];
}

// Per element: a max, a subtraction, an exp (2), a sum and a division.
int64_t Softmax::forward_flops(const std::vector<Shape>& inputs) const { return 6 * shape_numel(inputs[0]); }

Tensor Softmax::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  output_shape({inputs[0].shape()});
  const Tensor x = inputs[0].contiguous();
  const ChannelView v = channel_view(x.shape());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), softmax_forward, x.data<scalar_t>(), v.outer, v.channels, v.inner,
                        y.data<scalar_t>(), static_cast<scalar_t*>(nullptr));
  output_ = mode == Mode::train ? y : Tensor();
  return y;
}

std::vector<Tensor> Softmax::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  const ChannelView v = channel_view(dy.shape());
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), softmax_backward, output_.data<scalar_t>(), dy.data<scalar_t>(),
                        v.outer, v.channels, v.inner, dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
