#include "nn/layers/dropout.h"

#include <fmt/format.h>

#include "kernels/dropout.h"
#include "base/error.h"
#include "nn/layers/checks.h"

namespace i2v {

Dropout::Dropout(double p, uint64_t seed) : p_(p), seed_(seed) {
  I2V_CHECK(p >= 0.0 && p <= 1.0, "dropout: p = {} is not a probability in [0, 1]", p);
}

std::string Dropout::describe() const { return fmt::format("dropout p={:g}", p_); }

Shape Dropout::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  return inputs[0];
}

// One multiply per element (in training).
int64_t Dropout::forward_flops(const std::vector<Shape>& inputs) const { return shape_numel(inputs[0]); }

namespace {
// 1 / (1 − p), and 0 when p = 1 (every element dropped).
double keep_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }
}  // namespace

Tensor Dropout::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  if (mode == Mode::eval) {
    output_.reset();
    return inputs[0];
  }
  const Tensor x = inputs[0].contiguous();
  key_ = dropout_key(seed_, calls_++);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), dropout_apply, x.data<scalar_t>(), y.data<scalar_t>(), x.numel(), key_,
                        dropout_threshold(p_), scalar_t(keep_scale(p_)));
  output_ = TensorSignature::of(y);
  return y;
}

std::vector<Tensor> Dropout::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), dropout_apply, dy.data<scalar_t>(), dx.data<scalar_t>(), dy.numel(),
                        key_, dropout_threshold(p_), scalar_t(keep_scale(p_)));
  return {dx};
}

void Dropout::set_random_state(const std::vector<uint64_t>& state) {
  I2V_CHECK(state.size() == 2, "{}: a random state is {{seed, calls}}, got {} numbers", describe(), state.size());
  seed_ = state[0];
  calls_ = state[1];
}

}  // namespace i2v
