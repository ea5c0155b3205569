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
  return route_.forward(x, g, out_shape, mode);
}

std::vector<Tensor> MaxPool2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  return route_.backward(*this, grad_output, need_input_grad);
}

}  // namespace i2v
