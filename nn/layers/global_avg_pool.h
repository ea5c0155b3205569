// GlobalAvgPool: the mean of each channel's plane, NCHW → [N, C] (Illustration2Vec's head after
// its last convolution). The sum is a deterministic per-channel reduction (kernels/reduce.h).
#pragma once

#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

class GlobalAvgPool final : public Layer {
 public:
  std::string kind() const override { return "global_avg_pool"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

 private:
  // Kept by a train-mode forward: the input's shape and the output's signature.
  Shape input_shape_;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
