// Softmax over the channels: dim 1 of [N, C] or of NCHW (each pixel's C values sum to 1), as
// torch.softmax(x, dim=1). Stable for any input (the row's max is subtracted before exp).
// Backward uses the output: dx = y · (dy − Σ_c dy · y).
// (For a softmax feeding cross-entropy, use the fused loss CrossEntropy instead.)
#pragma once

#include "nn/layer.h"

namespace i2v {

class Softmax final : public Layer {
 public:
  std::string kind() const override { return "softmax"; }
  std::string describe() const override { return "softmax dim=1"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_ = Tensor(); }

 private:
  Tensor output_;  // kept by a train-mode forward
};

}  // namespace i2v
