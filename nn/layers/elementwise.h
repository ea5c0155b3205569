// The shell shared by the one-input elementwise layers (ReLU, LeakyReLU, Sigmoid): the output
// has the input's shape; a train-mode forward keeps the tensor the derivative reads — the input,
// or the output where the derivative is cheaper from it (sigmoid) — and backward runs the
// layer's gradient kernel on it. A layer supplies its two kernel calls, which also take bf16
// tensors (kernels/activation.h): a bf16 input (between layers at bf16 precision) gives a bf16
// output, each element computed in f32 and rounded, and the gradients likewise.
#pragma once

#include "nn/layer.h"
#include "nn/layers/kept_activation.h"

namespace i2v {

class ElementwiseLayer : public Layer {
 public:
  Shape output_shape(const std::vector<Shape>& inputs) const final;
  int64_t forward_flops(const std::vector<Shape>& inputs) const final;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) final;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) final;
  void clear_saved() final { kept_ = KeptActivation(); }
  Bf16 bf16() const final { return Bf16::passed; }

 protected:
  enum class Keeps { input, output };
  ElementwiseLayer(Keeps keeps, int64_t flops_per_element) : keeps_(keeps), flops_per_element_(flops_per_element) {}

  // y = f(x); x and y contiguous, of one shape, dtype (f32, f64 or bf16) and device.
  virtual void run_forward(const Tensor& x, const Tensor& y) const = 0;
  // dx = dy · f' from the kept tensor (the input or the output); all contiguous, of one dtype and
  // device and of as many elements (the backward pass may hand over consecutive pieces, flattened).
  virtual void run_backward(const Tensor& kept, const Tensor& dy, const Tensor& dx) const = 0;

 private:
  Keeps keeps_;
  int64_t flops_per_element_;
  KeptActivation kept_;  // kept by a train-mode forward
};

}  // namespace i2v
