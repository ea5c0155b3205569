// Flatten: [N, d1, d2, ...] → [N, d1·d2·…], as torch.flatten(x, 1). No copy when the input is
// contiguous: the output is a view of it (and the gradient a view of grad_output).
#pragma once

#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

class Flatten final : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

 private:
  // Kept by a train-mode forward: the input's shape and the output's signature.
  Shape input_shape_;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
