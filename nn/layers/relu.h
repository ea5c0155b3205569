// ReLU: y = max(x, 0). Backward passes the gradient where x > 0 (0 at x == 0, as PyTorch).
#pragma once

#include "nn/layer.h"

namespace i2v {

class ReLU final : public Layer {
 public:
  std::string kind() const override { return "relu"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { input_ = Tensor(); }

 private:
  Tensor input_;  // kept by a train-mode forward
};

}  // namespace i2v
