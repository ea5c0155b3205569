// Add: y = a + b for two inputs of one shape (a residual connection's join). Backward hands dy
// to both inputs: grad_output itself to the first, a copy to the second, so no two returned
// gradients share memory.
#pragma once

#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

class Add final : public Layer {
 public:
  std::string kind() const override { return "add"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

 private:
  std::optional<TensorSignature> output_;  // kept by a train-mode forward
};

}  // namespace i2v
