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
  if (x.dtype() == DType::bf16) {  // a piece at a time in f32, rounded back (kept_activation.h)
    const Tensor x_flat = x.view({x.numel()}), y_flat = y.view({y.numel()});
    for_each_piece(piece_elements(x.device()), x.numel(), 1, [&](int64_t begin, int64_t end) {
      const Tensor y_piece = Tensor::empty({end - begin}, DType::f32, x.device());
      run_forward(widened(x_flat.slice(0, begin, end)), y_piece);
      y_flat.slice(0, begin, end).copy_from(y_piece);
    });
  } else {
    run_forward(x, y);
  }
  kept_ = mode == Mode::eval ? KeptActivation() : KeptActivation(keeps_ == Keeps::input ? x : y);
  return y;
}

std::vector<Tensor> ElementwiseLayer::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, kept_.signature(), grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  const Tensor dy_flat = dy.view({dy.numel()}), dx_flat = dx.view({dx.numel()});
  kept_.for_each_piece([&](int64_t begin, int64_t end, const Tensor& kept) {
    const Tensor dy_piece = dy_flat.slice(0, begin, end);
    Tensor dx_piece = dx_flat.slice(0, begin, end);
    if (dy.dtype() != DType::bf16) return run_backward(kept, dy_piece, dx_piece);
    const Tensor dx_f32 = Tensor::empty({end - begin}, DType::f32, dy.device());
    run_backward(kept, widened(dy_piece), dx_f32);
    dx_piece.copy_from(dx_f32);
  });
  return {dx};
}

}  // namespace i2v
