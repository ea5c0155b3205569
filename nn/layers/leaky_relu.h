// LeakyReLU: y = x for x > 0, slope · x otherwise (PyTorch's default slope 0.01). Backward
// passes dy where x > 0 and slope · dy elsewhere (x == 0 included, as PyTorch).
#pragma once

#include "nn/layers/elementwise.h"

namespace i2v {

class LeakyReLU final : public ElementwiseLayer {
 public:
  explicit LeakyReLU(double slope = 0.01) : ElementwiseLayer(Keeps::input, 1), slope_(slope) {}
  std::string kind() const override { return "leaky_relu"; }
  std::string describe() const override;

  double slope() const { return slope_; }

 private:
  void run_forward(const Tensor& x, const Tensor& y) const override;
  void run_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) const override;

  double slope_;
};

}  // namespace i2v
