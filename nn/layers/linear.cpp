#include "nn/layers/linear.h"

#include <fmt/format.h>

#include "kernels/bias.h"
#include "base/error.h"
#include "kernels/gemm.h"
#include "nn/layers/checks.h"

namespace i2v {

namespace {

// The weight's shape, once the arguments are checked.
Shape linear_weight_shape(int64_t in_features, int64_t out_features) {
  I2V_CHECK(in_features > 0 && out_features > 0, "linear: {} -> {} features", in_features, out_features);
  return {out_features, in_features};
}

}  // namespace

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : in_features_(in_features),
      out_features_(out_features),
      params_(linear_weight_shape(in_features, out_features), out_features, bias) {}

std::string Linear::describe() const {
  return fmt::format("linear {}->{}{}", in_features_, out_features_, params_.has_bias() ? "" : " no-bias");
}

Shape Linear::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const Shape& in = inputs[0];
  I2V_CHECK(!in.empty() && in.back() == in_features_, "{}: input of shape {}, expected [..., {}]", describe(),
            shape_str(in), in_features_);
  Shape out = in;
  out.back() = out_features_;
  return out;
}

int64_t Linear::forward_flops(const std::vector<Shape>& inputs) const {
  const int64_t outputs = shape_numel(output_shape(inputs));
  return 2 * outputs * in_features_ + (params_.has_bias() ? outputs : 0);
}

Tensor Linear::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape()});
  const Tensor given = inputs[0].contiguous();
  const Tensor x = widened(given);  // a bf16 input (nn/layer.h) in f32, kept as it came
  params_.check_matches(*this, x);
  const Tensor& w = params_.weight.value;
  const int64_t rows = x.numel() / in_features_;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), gemm, false, true, rows, out_features_, in_features_, scalar_t(1),
                        x.data<scalar_t>(), in_features_, w.data<scalar_t>(), in_features_, scalar_t(0),
                        y.data<scalar_t>(), out_features_);
  if (params_.has_bias())
    I2V_DISPATCH_FLOATING(x.device(), x.dtype(), add_channel_bias, y.data<scalar_t>(),
                          params_.bias.value.data<scalar_t>(), rows, out_features_, 1);
  input_ = mode == Mode::train ? KeptActivation(given) : KeptActivation();
  return y;
}

std::vector<Tensor> Linear::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_.whole_signature(), grad_output,
                       input_.defined() ? output_shape({input_.shape()}) : Shape{});
  const Tensor dy = grad_output.contiguous();
  const Device device = dy.device();
  const DType dtype = dy.dtype();
  const int64_t rows = shape_numel(input_.shape()) / in_features_;
  if (params_.weight.requires_grad)
    I2V_DISPATCH_FLOATING(device, dtype, gemm, true, false, out_features_, in_features_, rows, scalar_t(1),
                          dy.data<scalar_t>(), out_features_, input_.whole().data<scalar_t>(), in_features_,
                          scalar_t(1), params_.weight.grad.data<scalar_t>(), in_features_);
  if (params_.has_bias() && params_.bias.requires_grad)
    I2V_DISPATCH_FLOATING(device, dtype, channel_bias_grad, dy.data<scalar_t>(), rows, out_features_, 1,
                          params_.bias.grad.data<scalar_t>());
  if (!need_input_grad.at(0)) return {Tensor()};
  Tensor dx = Tensor::empty(input_.shape(), dtype, device);
  I2V_DISPATCH_FLOATING(device, dtype, gemm, false, false, rows, in_features_, out_features_, scalar_t(1),
                        dy.data<scalar_t>(), out_features_, params_.weight.value.data<scalar_t>(), in_features_,
                        scalar_t(0), dx.data<scalar_t>(), in_features_);
  return {dx};
}

}  // namespace i2v
