// BatchNorm2d over the channels of NCHW, as PyTorch's nn.BatchNorm2d (kernels/batch_norm.h):
//   train: normalise with the batch's mean and biased variance; move the running statistics by
//          running = (1 − momentum)·running + momentum·batch (the variance unbiased, ·m/(m − 1));
//          count the batch in num_batches_tracked;
//   eval:  normalise with the running statistics.
//   y = (x − mean) / √(var + eps) · weight + bias
// Parameters "weight" (γ, ones) and "bias" (β, zeros), [C]; buffers "running_mean" (zeros),
// "running_var" (ones), [C], and "num_batches_tracked" (int64, 0-d): the names and shapes of a
// torchvision state dict; one without num_batches_tracked loads with a count of 0, as in PyTorch. Training needs more than one value per channel (N·H·W > 1).
#pragma once

#include "nn/layer.h"

namespace i2v {

class BatchNorm2d final : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  std::string kind() const override { return "batch_norm2d"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  std::vector<std::pair<std::string, Parameter*>> parameters() override;
  std::vector<std::pair<std::string, Tensor*>> buffers() override;
  // num_batches_tracked: a state dict without it loads as a count of 0, as in PyTorch.
  std::vector<std::string> optional_buffers() const override { return {"num_batches_tracked"}; }
  void clear_saved() override;

  int64_t channels() const { return channels_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }

 private:
  int64_t channels_;
  double eps_, momentum_;
  Parameter weight_, bias_;
  Tensor running_mean_, running_var_, num_batches_tracked_;
  // Kept by a train-mode forward: the input and the batch's statistics.
  Tensor input_, batch_mean_, batch_var_;
};

}  // namespace i2v
