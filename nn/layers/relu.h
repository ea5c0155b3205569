// ReLU: y = max(x, 0). Backward passes the gradient where x > 0 (0 at x == 0, as PyTorch).
#pragma once

#include "nn/layers/elementwise.h"

namespace i2v {

class ReLU final : public ElementwiseLayer {
 public:
  ReLU() : ElementwiseLayer(Keeps::input, 1) {}
  std::string kind() const override { return "relu"; }

 private:
  void run_forward(const Tensor& x, const Tensor& y) const override;
  void run_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) const override;
};

}  // namespace i2v
