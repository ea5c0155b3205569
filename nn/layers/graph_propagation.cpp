#include "nn/layers/graph_propagation.h"

#include <fmt/format.h>

#include "kernels/batched_gemm.h"
#include "base/error.h"
#include "kernels/gemm.h"
#include "nn/layers/checks.h"
#include "nn/layers/nodes.h"

namespace i2v {

GraphPropagation::GraphPropagation(int64_t nodes) : learned_(nodes > 0) {
  if (learned_) weight_ = make_parameter({nodes, nodes});
}

std::unique_ptr<GraphPropagation> GraphPropagation::learned(int64_t nodes) {
  I2V_CHECK(nodes > 0, "static_graph: {} nodes", nodes);
  return std::unique_ptr<GraphPropagation>(new GraphPropagation(nodes));
}

std::unique_ptr<GraphPropagation> GraphPropagation::from_input() {
  return std::unique_ptr<GraphPropagation>(new GraphPropagation(0));
}

std::string GraphPropagation::describe() const {
  return learned_ ? fmt::format("static_graph {} nodes", weight_.value.size(0)) : "dynamic_graph";
}

std::vector<std::pair<std::string, Parameter*>> GraphPropagation::parameters() {
  if (!learned_) return {};
  return {{"weight", &weight_}};
}

Shape GraphPropagation::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), learned_ ? 1 : 2);
  const Shape& x = inputs.back();
  check_node_features(*this, x, "features");
  const int64_t nodes = x[1];
  if (learned_) {
    I2V_CHECK(weight_.value.size(0) == nodes, "{}: features of {} nodes", describe(), nodes);
  } else {
    I2V_CHECK(inputs[0] == (Shape{x[0], nodes, nodes}), "{}: adjacency {} for features {}: expected [{}, {}, {}]",
              describe(), shape_str(inputs[0]), shape_str(x), x[0], nodes, nodes);
  }
  return x;
}

int64_t GraphPropagation::forward_flops(const std::vector<Shape>& inputs) const {
  return 2 * shape_numel(output_shape(inputs)) * inputs.back()[1];
}

Tensor GraphPropagation::forward(const std::vector<Tensor>& inputs, Mode mode) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  const Shape out_shape = output_shape(shapes);
  std::vector<Tensor> alike = inputs;
  if (learned_) alike.insert(alike.begin(), weight_.value);
  check_inputs_alike(*this, alike);
  const Tensor a = alike[0].contiguous(), x = alike[1].contiguous();
  const int64_t batch = out_shape[0], nodes = out_shape[1], features = out_shape[2];
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batched_gemm, false, false, batch, nodes, features, nodes, scalar_t(1),
                        a.data<scalar_t>(), nodes, learned_ ? 0 : nodes * nodes, x.data<scalar_t>(), features,
                        nodes * features, scalar_t(0), y.data<scalar_t>(), features, nodes * features);
  clear_saved();
  if (mode == Mode::train) {
    adjacency_ = a;
    features_ = x;
  }
  return y;
}

std::vector<Tensor> GraphPropagation::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, features_, grad_output);
  const Tensor dy = grad_output.contiguous();
  const Device device = dy.device();
  const DType dtype = dy.dtype();
  const int64_t batch = features_.size(0), nodes = features_.size(1), features = features_.size(2);
  const int64_t stride_a = learned_ ? 0 : nodes * nodes;
  std::vector<Tensor> grads(learned_ ? 1 : 2);
  if (learned_ && weight_.requires_grad) {
    // Σ_n dY_n · X_nᵀ = dY' · X'ᵀ with dY', X' the [C, N·D] matrices of all images' rows.
    const Tensor dy_rows = dy.permute({1, 0, 2}).contiguous(), x_rows = features_.permute({1, 0, 2}).contiguous();
    I2V_DISPATCH_FLOATING(device, dtype, gemm, false, true, nodes, nodes, batch * features, scalar_t(1),
                          dy_rows.data<scalar_t>(), batch * features, x_rows.data<scalar_t>(), batch * features,
                          scalar_t(1), weight_.grad.data<scalar_t>(), nodes);
  }
  if (!learned_ && need_input_grad.at(0)) {
    grads[0] = Tensor::empty(adjacency_.shape(), dtype, device);
    I2V_DISPATCH_FLOATING(device, dtype, batched_gemm, false, true, batch, nodes, nodes, features, scalar_t(1),
                          dy.data<scalar_t>(), features, nodes * features, features_.data<scalar_t>(), features,
                          nodes * features, scalar_t(0), grads[0].data<scalar_t>(), nodes, nodes * nodes);
  }
  if (need_input_grad.back()) {
    grads.back() = Tensor::empty(features_.shape(), dtype, device);
    I2V_DISPATCH_FLOATING(device, dtype, batched_gemm, true, false, batch, nodes, features, nodes, scalar_t(1),
                          adjacency_.data<scalar_t>(), nodes, stride_a, dy.data<scalar_t>(), features,
                          nodes * features, scalar_t(0), grads.back().data<scalar_t>(), features, nodes * features);
  }
  return grads;
}

}  // namespace i2v
