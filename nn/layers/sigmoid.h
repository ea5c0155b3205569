// Sigmoid: y = 1 / (1 + e^-x), stable for any x. Backward uses the output: dx = dy · y · (1 − y).
// An exp, an add and a division per element, counted as 4 FLOPs (exp as 2).
// (For a sigmoid feeding binary cross-entropy, use the fused loss BCEWithLogits instead.)
#pragma once

#include "nn/layers/elementwise.h"

namespace i2v {

class Sigmoid final : public ElementwiseLayer {
 public:
  Sigmoid() : ElementwiseLayer(Keeps::output, 4) {}
  std::string kind() const override { return "sigmoid"; }

 private:
  void run_forward(const Tensor& x, const Tensor& y) const override;
  void run_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) const override;
};

}  // namespace i2v
