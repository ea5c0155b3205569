#include "nn/layers/node_concat.h"

#include "base/error.h"
#include "kernels/node_concat.h"
#include "nn/layers/nodes.h"

namespace i2v {

Shape NodeConcat::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 2);
  check_node_features(*this, inputs[0], "input 0");
  I2V_CHECK(inputs[1].size() == 2 && inputs[1][0] == inputs[0][0], "{}: input 1 of shape {}, expected [{}, features]",
            describe(), shape_str(inputs[1]), inputs[0][0]);
  return {inputs[0][0], inputs[0][1], inputs[0][2] + inputs[1][1]};
}

Tensor NodeConcat::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape(), inputs.at(1).shape()});
  check_inputs_alike(*this, inputs);
  const Tensor& nodes = inputs[0];
  const Tensor v = inputs[1].contiguous();
  const int64_t width = nodes.size(2);
  Tensor y = Tensor::empty(out_shape, nodes.dtype(), nodes.device());
  y.slice(2, 0, width).copy_from(nodes);
  I2V_DISPATCH_FLOATING(y.device(), y.dtype(), broadcast_to_nodes, v.data<scalar_t>(), out_shape[0], out_shape[1],
                        v.size(1), out_shape[2], width, y.data<scalar_t>());
  clear_saved();
  if (mode == Mode::train) {
    output_ = TensorSignature::of(y);
    node_width_ = width;
  }
  return y;
}

std::vector<Tensor> NodeConcat::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  const Tensor dy = grad_output.contiguous();
  const int64_t batch = dy.size(0), nodes = dy.size(1), width = dy.size(2), extra = width - node_width_;
  Tensor dnodes, dv;
  if (need_input_grad.at(0)) dnodes = dy.slice(2, 0, node_width_).contiguous();
  if (need_input_grad.at(1)) {
    dv = Tensor::empty({batch, extra}, dy.dtype(), dy.device());
    I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), sum_over_nodes, dy.data<scalar_t>(), batch, nodes, extra, width,
                          node_width_, dv.data<scalar_t>());
  }
  return {dnodes, dv};
}

}  // namespace i2v
