// MaxPool2d over NCHW with kernel, stride, padding and ceil_mode exactly as PyTorch (pool2d.h).
// Padding never wins: windows are clipped to the input. Backward routes each output's gradient
// to the element its window chose (the first of tied maxima in row-major order, as PyTorch;
// a NaN is chosen over numbers), summing where windows overlap.
#pragma once

#include "nn/layer.h"
#include "nn/layers/checks.h"
#include "nn/layers/pool2d.h"

namespace i2v {

class MaxPool2d final : public Layer {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options_(options) {}
  // A square window; stride 0 means the kernel size.
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t pad = 0, bool ceil_mode = false)
      : options_(Pool2dOptions::square(kernel, stride, pad, ceil_mode)) {}
  std::string kind() const override { return "max_pool2d"; }
  std::string describe() const override { return "max_pool2d " + pool2d_options_str(options_); }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { route_.clear(); }
  Bf16 bf16() const override { return Bf16::passed; }

  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
  MaxPoolRoute route_;
};

}  // namespace i2v
