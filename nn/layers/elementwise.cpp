#include "nn/layers/elementwise.h"

#include "nn/layers/checks.h"

namespace i2v {

Shape ElementwiseLayer::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  return inputs[0];
}

int64_t ElementwiseLayer::forward_flops(const std::vector<Shape>& inputs) const {
  return flops_per_element_ * shape_numel(inputs[0]);
}

Tensor ElementwiseLayer::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  run_forward(x, y);  // a bf16 x too: the kernels compute each element in f32 and round it
  kept_ = mode == Mode::eval ? KeptActivation() : KeptActivation(keeps_ == Keeps::input ? x : y);
  return y;
}

std::vector<Tensor> ElementwiseLayer::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, kept_.signature(), grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  if (dy.dtype() == DType::bf16) {  // passed in bf16: what was kept is the bf16 input or output
    run_backward(kept_.stored(), dy, dx);
    return {dx};
  }
  // An f32 gradient, and what was kept f32 too, or narrowed to bf16 (an f32 input at bf16
  // precision: kept_activation.h), widened a piece at a time.
  const Tensor dy_flat = dy.view({dy.numel()}), dx_flat = dx.view({dx.numel()});
  kept_.for_each_piece([&](int64_t begin, int64_t end, const Tensor& kept) {
    run_backward(kept, dy_flat.slice(0, begin, end), dx_flat.slice(0, begin, end));
  });
  return {dx};
}

}  // namespace i2v
