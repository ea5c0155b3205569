#include "nn/layers/node_classifier.h"

#include <fmt/format.h>

#include "base/error.h"
#include "kernels/node_classifier.h"
#include "nn/layers/checks.h"
#include "nn/layers/nodes.h"

namespace i2v {

namespace {

Shape node_weight_shape(int64_t nodes, int64_t features) {
  I2V_CHECK(nodes > 0 && features > 0, "node_classifier: {} nodes of {} features", nodes, features);
  return {nodes, features};
}

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

NodeClassifier::NodeClassifier(int64_t nodes, int64_t features, bool bias)
    : nodes_(nodes), features_(features), params_(node_weight_shape(nodes, features), nodes, bias) {}

std::string NodeClassifier::describe() const {
  return fmt::format("node_classifier {} nodes x {}{}", nodes_, features_, params_.has_bias() ? "" : " no-bias");
}

Shape NodeClassifier::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  check_node_features(*this, inputs[0], "input");
  I2V_CHECK(inputs[0][1] == nodes_ && inputs[0][2] == features_, "{}: input of shape {}, expected [N, {}, {}]",
            describe(), shape_str(inputs[0]), nodes_, features_);
  return {inputs[0][0], nodes_};
}

int64_t NodeClassifier::forward_flops(const std::vector<Shape>& inputs) const {
  return 2 * shape_numel(inputs.at(0));
}

Tensor NodeClassifier::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape()});
  const Tensor z = inputs[0].contiguous();
  params_.check_matches(*this, z);
  Tensor s = Tensor::empty(out_shape, z.dtype(), z.device());
  I2V_DISPATCH_FLOATING(z.device(), z.dtype(), node_classifier_forward, z.data<scalar_t>(),
                        params_.weight.value.data<scalar_t>(), data_or_null<scalar_t>(params_.bias.value),
                        out_shape[0], nodes_, features_, s.data<scalar_t>());
  input_ = mode == Mode::train ? z : Tensor();
  return s;
}

std::vector<Tensor> NodeClassifier::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_, grad_output, input_.defined() ? output_shape({input_.shape()}) : Shape{});
  const Tensor ds = grad_output.contiguous();
  Tensor dz = need_input_grad.at(0) ? Tensor::empty(input_.shape(), ds.dtype(), ds.device()) : Tensor();
  const Tensor weight_grad = params_.weight.requires_grad ? params_.weight.grad : Tensor();
  const Tensor bias_grad = params_.has_bias() && params_.bias.requires_grad ? params_.bias.grad : Tensor();
  I2V_DISPATCH_FLOATING(ds.device(), ds.dtype(), node_classifier_backward, ds.data<scalar_t>(),
                        input_.data<scalar_t>(), params_.weight.value.data<scalar_t>(), input_.size(0), nodes_,
                        features_, data_or_null<scalar_t>(dz), data_or_null<scalar_t>(weight_grad),
                        data_or_null<scalar_t>(bias_grad));
  return {dz};
}

}  // namespace i2v
