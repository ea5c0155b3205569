// Dropout(p): in training, each element is zeroed with probability p and the others are scaled
// by 1 / (1 − p) (inverted dropout, as PyTorch), so eval is the identity (it returns its input
// tensor itself).
//
// The mask comes from a counter-based generator (kernels/dropout.h): the n-th train-mode forward
// of a layer seeded with `seed` draws the mask keyed by (seed, n), the same on every device and
// in float and double. Backward recomputes the mask from its key instead of storing it. The
// generator's state is the pair {seed, calls}: rng_state() / set_rng_state() let a checkpoint
// save and restore it, so a resumed run draws the masks an uninterrupted one would have.
#pragma once

#include <cstdint>
#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

struct DropoutRngState {
  uint64_t seed = 0;
  uint64_t calls = 0;  // train-mode forwards so far: the next one draws mask number `calls`
  bool operator==(const DropoutRngState& other) const { return seed == other.seed && calls == other.calls; }
};

class Dropout final : public Layer {
 public:
  // p in [0, 1].
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  std::string kind() const override { return "dropout"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

  double p() const { return p_; }
  DropoutRngState rng_state() const { return rng_; }
  void set_rng_state(const DropoutRngState& state) { rng_ = state; }

 private:
  double p_;
  DropoutRngState rng_;
  // Kept by a train-mode forward: its mask's key and its output's signature.
  uint64_t key_ = 0;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
