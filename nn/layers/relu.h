// ReLU: y = max(x, 0), a NaN kept (kernels/activation.h's ReluMath, as PyTorch). Backward passes
// the gradient where x > 0 or x is NaN (0 at x == 0, as PyTorch), read from the output it keeps
// (y is x exactly there): the next layer, a convolution, keeps that same tensor as its input, so
// the two hold one activation between them, as PyTorch's in-place ReLU does.
#pragma once

#include "nn/layers/elementwise.h"

namespace i2v {

class ReLU final : public ElementwiseLayer {
 public:
  ReLU() : ElementwiseLayer(Keeps::output, 1) {}
  std::string kind() const override { return "relu"; }

 private:
  void run_forward(const Tensor& x, const Tensor& y) const override;
  void run_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) const override;
};

}  // namespace i2v
