// Dropout(p): in training, each element is zeroed with probability p and the others are scaled
// by 1 / (1 − p) (inverted dropout, as PyTorch), so eval is the identity (it returns its input
// tensor itself).
//
// The mask comes from a counter-based generator (kernels/dropout.h): the n-th train-mode forward
// of a layer seeded with `seed` draws the mask keyed by (seed, n), the same on every device and
// in float and double. Backward recomputes the mask from its key instead of storing it. The
// generator's state is the pair {seed, calls}: random_state() / set_random_state() let a
// checkpoint save and restore it, so a resumed run draws the masks an uninterrupted one would have.
#pragma once

#include <cstdint>
#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

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
  // {seed, calls}: the next train-mode forward draws mask number `calls` of `seed`.
  std::vector<uint64_t> random_state() const override { return {seed_, calls_}; }
  void set_random_state(const std::vector<uint64_t>& state) override;

 private:
  double p_;
  uint64_t seed_;
  uint64_t calls_ = 0;
  // Kept by a train-mode forward: its mask's key and its output's signature.
  uint64_t key_ = 0;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
