// LeakyReLU: y = x for x > 0, slope · x otherwise (PyTorch's default slope 0.01). Backward
// passes dy where x > 0 and slope · dy elsewhere (x == 0 included, as PyTorch).
#pragma once

#include "nn/layer.h"

namespace i2v {

class LeakyReLU final : public Layer {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope_(slope) {}
  std::string kind() const override { return "leaky_relu"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { input_ = Tensor(); }

  double slope() const { return slope_; }

 private:
  double slope_;
  Tensor input_;  // kept by a train-mode forward
};

}  // namespace i2v
