// BCEWithLogits: sigmoid and binary cross-entropy fused, with the semantics of PyTorch's
// nn.BCEWithLogitsLoss(reduction, pos_weight) — the tagging loss (1,539 independent tags).
//
//   inputs:  logits [..., C], targets of the same shape (in [0, 1]; soft labels allowed) and,
//            optionally, a mask of the same shape (0 = ignore the element, e.g. a tag that was
//            not annotated for that image; any other value = keep it);
//   loss:    per element (1 − t)·x + (1 + (w − 1)·t)·(log1p(e^−|x|) + max(−x, 0)), finite for
//            any logit (kernels/bce_with_logits.h), where w = pos_weight[class] (the class is
//            the index along the last dimension, as PyTorch broadcasts pos_weight) or 1;
//            mean over the elements (over the kept elements only when a mask is given; 0 when
//            none is kept), or their sum, or the sum divided by the number of samples (rows):
//            batch_mean, Caffe's SigmoidCrossEntropyLoss normalisation, whose gradient per tag
//            does not shrink as the number of tags grows (1,539 tags make "mean" gradients
//            1,539 times smaller).
// pos_weight (optional, [C], > 1 to favour recall of rare tags) is the loss's own constant:
// it is moved to the logits' device and dtype when they change.
#pragma once

#include "nn/loss.h"

namespace i2v {

class BCEWithLogits final : public Loss {
 public:
  explicit BCEWithLogits(Reduction reduction = Reduction::mean, Tensor pos_weight = Tensor());
  std::string kind() const override { return "bce_with_logits"; }
  std::string describe() const override;
  Tensor forward(const std::vector<Tensor>& inputs) override;
  Tensor backward() override;
  void clear_saved() override;

  Reduction reduction() const override { return reduction_; }
  const Tensor& pos_weight() const { return pos_weight_; }

 private:
  double sum_scale(const Tensor& logits) const;

  Reduction reduction_;
  Tensor pos_weight_;  // [C] or undefined; a copy on the logits' device and dtype after forward
  // Kept by forward: inputs and {Σ kept losses, number kept}.
  Tensor logits_, targets_, mask_, sums_;
};

}  // namespace i2v
