// A loss: what training minimises, computed from the network's output (logits) and the targets.
//
// Contract shared by every loss (nn/losses/*):
//   - forward(inputs) takes {logits, targets[, mask]} on one device — float32, or float64 on the
//     cpu device (the gradient checker's reference) — checks their shapes, and returns the loss
//     as a 1-element tensor [1] on the logits' device and dtype. It keeps what backward() needs.
//   - backward() returns dL/d(logits) of the last forward: the logits' shape, device and dtype.
//     Targets and masks are data and get no gradient.
//   - Sums on a GPU are deterministic (no float atomics): the same inputs give the same bits.
#pragma once

#include <string>
#include <vector>

#include "nn/tensor.h"

namespace i2v {

// How per-element (or per-example) losses combine into the loss.
// mean: over every element; sum; batch_mean: summed over each sample, averaged over the batch.
enum class Reduction { mean, sum, batch_mean };

const char* reduction_name(Reduction reduction);

class Loss {
 public:
  virtual ~Loss() = default;

  // The loss's kind as written in configs: "bce_with_logits", "cross_entropy".
  virtual std::string kind() const = 0;
  // One line for summaries and logs, e.g. "bce_with_logits mean pos_weight[1539]".
  virtual std::string describe() const { return kind(); }
  // How the examples' losses combine: a distributed run weighs each rank's gradient by it.
  virtual Reduction reduction() const = 0;

  virtual Tensor forward(const std::vector<Tensor>& inputs) = 0;
  virtual Tensor backward() = 0;
  // Releases what forward kept for backward.
  virtual void clear_saved() {}
};

}  // namespace i2v
