// Scale: y = factor · x, for a constant factor (no parameter). The GCN head averages its two
// scores, ADD-GCN's (s_attention + s_graph) / 2, as an add followed by a scale of 0.5.
#pragma once

#include "nn/layers/elementwise.h"

namespace i2v {

class Scale final : public ElementwiseLayer {
 public:
  explicit Scale(double factor) : ElementwiseLayer(Keeps::output, 1), factor_(factor) {}
  std::string kind() const override { return "scale"; }
  std::string describe() const override;

  double factor() const { return factor_; }

 private:
  void run_forward(const Tensor& x, const Tensor& y) const override;
  void run_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) const override;

  double factor_;
};

}  // namespace i2v
