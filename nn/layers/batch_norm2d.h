// BatchNorm2d over the channels of NCHW, as PyTorch's nn.BatchNorm2d (kernels/batch_norm.h):
//   train: normalise with the batch's mean and biased variance; move the running statistics by
//          running = (1 − momentum)·running + momentum·batch (the variance unbiased, ·m/(m − 1));
//          count the batch in num_batches_tracked;
//   eval:  normalise with the running statistics.
//   y = (x − mean) / √(var + eps) · weight + bias
// Parameters "weight" (γ, ones) and "bias" (β, zeros), [C]; buffers "running_mean" (zeros),
// "running_var" (ones), [C], and "num_batches_tracked" (int64, 0-d): the names and shapes of a
// torchvision state dict; one without num_batches_tracked loads with a count of 0, as in PyTorch.
// Training needs more than one value per channel (N·H·W > 1).
//
// Synchronised batch norm (PyTorch's SyncBatchNorm): in a data-parallel run each rank holds a
// slice of the global batch, and by default normalises with its slice's statistics (as DDP).
// With a BatchNormSync the layer normalises with the whole global batch's instead: the ranks'
// (count, mean, variance) are combined in rank order, and the backward pass adds the ranks' Σdy
// and Σdy·(x − mean) before computing dx, so that R ranks train exactly the model one process
// with the global batch would (up to float summation order).
#pragma once

#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/layers/kept_activation.h"

namespace i2v {

// What the batch norm layers of a data-parallel run exchange (train/sync_batch_norm.h implements it
// over the ranks of an MPI run; tests over threads). Every rank calls it in the same order.
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // Every rank's `values` (the same count on each), rank r's at [r·count, (r+1)·count).
  virtual std::vector<double> gather(const std::vector<double>& values, const std::string& what) = 0;
  // The factor this rank's gradients enter the global gradient with (train/gradient_reducer.h):
  // its share of the global batch's samples for a loss averaged over them, 1 for a summed one.
  virtual double gradient_weight() const = 0;
};

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
  Bf16 bf16() const override { return Bf16::rounded; }

  int64_t channels() const { return channels_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  // Normalise with the statistics of every rank's batch (null: this batch's alone).
  void synchronise(BatchNormSync* sync) { sync_ = sync; }

 private:
  int64_t channels_;
  double eps_, momentum_;
  Parameter weight_, bias_;
  Tensor running_mean_, running_var_, num_batches_tracked_;
  // Kept by a train-mode forward: the input and the batch's statistics.
  KeptActivation input_;
  Tensor batch_mean_, batch_var_;
  int64_t batch_count_ = 0;  // values per channel the statistics came from (every rank's with sync_)
  BatchNormSync* sync_ = nullptr;
};

}  // namespace i2v
