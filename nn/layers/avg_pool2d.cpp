#include "nn/layers/avg_pool2d.h"

namespace i2v {

std::string AvgPool2d::describe() const {
  return "avg_pool2d " + pool2d_options_str(options_) + (count_include_pad_ ? "" : " exclude_pad");
}

Pool2dGeometry AvgPool2d::geometry(const Shape& input) const {
  Pool2dGeometry g = pool2d_geometry(*this, options_, input);
  g.count_include_pad = count_include_pad_;
  return g;
}

Shape AvgPool2d::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const Pool2dGeometry g = geometry(inputs[0]);
  return {inputs[0][0], inputs[0][1], g.out_h, g.out_w};
}

// One add per window element and a division per output.
int64_t AvgPool2d::forward_flops(const std::vector<Shape>& inputs) const {
  return shape_numel(output_shape(inputs)) * (options_.kernel_h * options_.kernel_w + 1);
}

Tensor AvgPool2d::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  const Pool2dGeometry g = geometry(x.shape());
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.out_h, g.out_w}, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), avg_pool2d_forward, x.data<scalar_t>(), g, y.data<scalar_t>());
  clear_saved();
  if (mode == Mode::train) {
    geometry_ = g;
    output_ = TensorSignature::of(y);
  }
  return y;
}

std::vector<Tensor> AvgPool2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  const Pool2dGeometry& g = geometry_;
  Tensor dx = Tensor::empty({dy.size(0), dy.size(1), g.in_h, g.in_w}, dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), avg_pool2d_backward, dy.data<scalar_t>(), g, dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
