#include "nn/layers/semantic_attention.h"

#include "kernels/batched_gemm.h"
#include "base/error.h"
#include "nn/layers/checks.h"
#include "nn/layers/nodes.h"

namespace i2v {

Shape SemanticAttention::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 2);
  check_rank(*this, inputs[0], 4, "NCHW category maps");
  check_rank(*this, inputs[1], 4, "NCHW features");
  const Shape &maps = inputs[0], &features = inputs[1];
  I2V_CHECK(maps[0] == features[0] && maps[2] == features[2] && maps[3] == features[3],
            "{}: maps {} and features {} differ in batch or plane", describe(), shape_str(maps), shape_str(features));
  return {maps[0], maps[1], features[1]};
}

int64_t SemanticAttention::forward_flops(const std::vector<Shape>& inputs) const {
  return 2 * shape_numel(output_shape(inputs)) * inputs[0][2] * inputs[0][3];
}

Tensor SemanticAttention::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape(), inputs.at(1).shape()});
  check_inputs_alike(*this, inputs);
  const Tensor x = inputs[0].contiguous(), m = inputs[1].contiguous();
  const int64_t batch = out_shape[0], nodes = out_shape[1], features = out_shape[2], plane = x.size(2) * x.size(3);
  Tensor h = Tensor::empty(out_shape, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batched_gemm, false, true, batch, nodes, features, plane, scalar_t(1),
                        x.data<scalar_t>(), plane, nodes * plane, m.data<scalar_t>(), plane, features * plane,
                        scalar_t(0), h.data<scalar_t>(), features, nodes * features);
  clear_saved();
  if (mode == Mode::train) {
    maps_ = x;
    features_ = m;
  }
  return h;
}

std::vector<Tensor> SemanticAttention::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, maps_, grad_output,
                       maps_.defined() ? output_shape({maps_.shape(), features_.shape()}) : Shape{});
  const Tensor dh = grad_output.contiguous();
  const Device device = dh.device();
  const DType dtype = dh.dtype();
  const int64_t batch = maps_.size(0), nodes = maps_.size(1), features = features_.size(1);
  const int64_t plane = maps_.size(2) * maps_.size(3);
  Tensor dx, dm;
  if (need_input_grad.at(0)) {
    dx = Tensor::empty(maps_.shape(), dtype, device);
    I2V_DISPATCH_FLOATING(device, dtype, batched_gemm, false, false, batch, nodes, plane, features, scalar_t(1),
                          dh.data<scalar_t>(), features, nodes * features, features_.data<scalar_t>(), plane,
                          features * plane, scalar_t(0), dx.data<scalar_t>(), plane, nodes * plane);
  }
  if (need_input_grad.at(1)) {
    dm = Tensor::empty(features_.shape(), dtype, device);
    I2V_DISPATCH_FLOATING(device, dtype, batched_gemm, true, false, batch, features, plane, nodes, scalar_t(1),
                          dh.data<scalar_t>(), features, nodes * features, maps_.data<scalar_t>(), plane,
                          nodes * plane, scalar_t(0), dm.data<scalar_t>(), plane, features * plane);
  }
  return {dx, dm};
}

}  // namespace i2v
