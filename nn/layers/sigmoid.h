// Sigmoid: y = 1 / (1 + e^-x), stable for any x. Backward uses the output: dx = dy · y · (1 − y).
// (For a sigmoid feeding binary cross-entropy, use the fused loss BCEWithLogits instead.)
#pragma once

#include "nn/layer.h"

namespace i2v {

class Sigmoid final : public Layer {
 public:
  std::string kind() const override { return "sigmoid"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_ = Tensor(); }

 private:
  Tensor output_;  // kept by a train-mode forward
};

}  // namespace i2v
