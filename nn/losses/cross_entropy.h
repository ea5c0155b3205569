// CrossEntropy: softmax and cross-entropy over classes fused, as PyTorch's nn.CrossEntropyLoss
// with class-index targets and mean reduction (the default).
//
//   inputs: logits [N, K] and targets [N], class indices in [0, K) as int64 or int32;
//   loss:   (1/N) Σ_n (log Σ_k e^{x[n, k]} − x[n, t_n]), finite for logits of any size (the
//           log-sum-exp subtracts each row's max).
// The targets are copied to the host once per forward to check their range: a bad label is
// a clear error here instead of a wrong loss or an out-of-bounds read on the GPU.
#pragma once

#include "nn/loss.h"

namespace i2v {

class CrossEntropy final : public Loss {
 public:
  std::string kind() const override { return "cross_entropy"; }
  std::string describe() const override { return "cross_entropy mean"; }
  Reduction reduction() const override { return Reduction::mean; }
  Tensor forward(const std::vector<Tensor>& inputs) override;
  Tensor backward() override;
  void clear_saved() override;

 private:
  // Kept by forward: the softmax of the logits and the targets (int64, on the logits' device).
  Tensor probabilities_, targets_;
};

}  // namespace i2v
