// Concat: joins any number of inputs along dim 1 (channels of NCHW, features of [N, F]), as
// torch.cat(xs, dim=1). The inputs agree on every other dimension, dtype and device. Backward
// hands each input its slice of the gradient. Copies only (the strided copy of nn/tensor.h).
#pragma once

#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

class Concat final : public Layer {
 public:
  std::string kind() const override { return "concat"; }
  std::string describe() const override { return "concat dim=1"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

 private:
  // Kept by a train-mode forward: each input's size along dim 1, and the output's signature.
  std::vector<int64_t> widths_;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
