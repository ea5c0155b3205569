#include "nn/layers/global_max_pool.h"

#include "base/error.h"
#include "kernels/pool.h"
#include "nn/layers/checks.h"

namespace i2v {

namespace {

// One window, the whole plane.
Pool2dGeometry plane_window(const Shape& input) {
  Pool2dGeometry g;
  g.planes = input[0] * input[1];
  g.in_h = g.kernel_h = g.stride_h = input[2];
  g.in_w = g.kernel_w = g.stride_w = input[3];
  g.out_h = g.out_w = 1;
  return g;
}

}  // namespace

Shape GlobalMaxPool::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  check_rank(*this, inputs[0], 4, "NCHW");
  I2V_CHECK(inputs[0][2] * inputs[0][3] > 0, "{}: empty planes in {}", describe(), shape_str(inputs[0]));
  return {inputs[0][0], inputs[0][1]};
}

// One comparison per element.
int64_t GlobalMaxPool::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

Tensor GlobalMaxPool::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape()});
  const Tensor x = inputs[0].contiguous();
  const Pool2dGeometry g = plane_window(x.shape());
  return route_.forward(x, g, out_shape, mode);
}

std::vector<Tensor> GlobalMaxPool::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  return route_.backward(*this, grad_output, need_input_grad);
}

}  // namespace i2v
