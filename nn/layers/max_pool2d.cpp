#include "nn/layers/max_pool2d.h"

#include "nn/layers/checks.h"

namespace i2v {

Shape MaxPool2d::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const Pool2dGeometry g = pool2d_geometry(*this, options_, inputs[0]);
  return {inputs[0][0], inputs[0][1], g.out_h, g.out_w};
}

// One comparison per window element.
int64_t MaxPool2d::forward_flops(const std::vector<Shape>& inputs) const {
  return shape_numel(output_shape(inputs)) * options_.kernel_h * options_.kernel_w;
}

Tensor MaxPool2d::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  const Pool2dGeometry g = pool2d_geometry(*this, options_, x.shape());
  const Shape out_shape{x.size(0), x.size(1), g.out_h, g.out_w};
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(out_shape, DType::i32, x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), max_pool2d_forward, x.data<scalar_t>(), g, y.data<scalar_t>(),
                        argmax.data<int32_t>());
  clear_saved();
  if (mode == Mode::train) {
    geometry_ = g;
    output_ = TensorSignature::of(y);
    argmax_ = argmax;
  }
  return y;
}

std::vector<Tensor> MaxPool2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  const Pool2dGeometry& g = geometry_;
  Tensor dx = Tensor::empty({dy.size(0), dy.size(1), g.in_h, g.in_w}, dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), max_pool2d_backward, dy.data<scalar_t>(), argmax_.data<int32_t>(), g,
                        dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
