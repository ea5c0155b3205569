// AvgPool2d over NCHW with kernel, stride, padding and ceil_mode exactly as PyTorch (pool2d.h).
// Padding counts as zeros in the divisor (count_include_pad, PyTorch's default): an output
// divides by its window clipped to the padded input [−pad, in + pad), so a window that ceil_mode
// lets run past the padding divides by less than kernel². With count_include_pad = false it
// divides by the number of input elements it covers. Backward spreads each output's gradient
// over its window with the same divisor.
#pragma once

#include <optional>

#include "nn/layers/checks.h"
#include "nn/layers/pool2d.h"

namespace i2v {

class AvgPool2d final : public Layer {
 public:
  explicit AvgPool2d(const Pool2dOptions& options, bool count_include_pad = true)
      : options_(options), count_include_pad_(count_include_pad) {}
  // A square window; stride 0 means the kernel size.
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t pad = 0, bool ceil_mode = false,
                     bool count_include_pad = true)
      : AvgPool2d(Pool2dOptions::square(kernel, stride, pad, ceil_mode), count_include_pad) {}
  std::string kind() const override { return "avg_pool2d"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

  const Pool2dOptions& options() const { return options_; }
  bool count_include_pad() const { return count_include_pad_; }

 private:
  Pool2dGeometry geometry(const Shape& input) const;

  Pool2dOptions options_;
  bool count_include_pad_;
  // Kept by a train-mode forward: the window geometry and the output's signature.
  Pool2dGeometry geometry_;
  std::optional<TensorSignature> output_;
};

}  // namespace i2v
