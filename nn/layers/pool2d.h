// The window options of MaxPool2d and AvgPool2d, and the output size as PyTorch computes it:
//
//   out = ⌊(in + 2·pad − kernel) / stride⌋ + 1        (⌈…⌉ with ceil_mode)
//
// and with ceil_mode, a last window that would start at or beyond in + pad (entirely in the
// right padding) is dropped: every window starts inside the input or the left padding.
// As PyTorch, padding may be at most half the kernel, and the output must not be empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kernels/pool.h"
#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

struct Pool2dOptions {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;
  bool ceil_mode = false;

  // A square window; stride 0 means the kernel size (PyTorch's default).
  static Pool2dOptions square(int64_t kernel, int64_t stride = 0, int64_t pad = 0, bool ceil_mode = false);
};

// One axis: the output size for an input of `in` (throws with the reason when it is invalid).
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode);

// The geometry of pooling an NCHW input of `input` shape; throws, naming `layer`, when it does not fit.
Pool2dGeometry pool2d_geometry(const Layer& layer, const Pool2dOptions& options, const Shape& input);

// Max pooling's forward and backward for MaxPool2d and GlobalMaxPool: a train-mode forward keeps
// the geometry, the output's signature and, for each output element, the position in its window
// of the element chosen (kernels/pool.h's PoolArgmax: u8 for windows of up to 256 elements, else
// i32); backward routes each gradient there.
class MaxPoolRoute {
 public:
  // `x` contiguous; `out_shape` holds planes × out_h × out_w elements.
  Tensor forward(const Tensor& x, const Pool2dGeometry& g, const Shape& out_shape, Mode mode);
  // {the input's gradient [N, C, in_h, in_w]}, or {undefined} when it is not needed; checks
  // first that a train-mode forward came before.
  std::vector<Tensor> backward(const Layer& layer, const Tensor& grad_output,
                               const std::vector<bool>& need_input_grad) const;
  void clear() {
    output_.reset();
    argmax_ = Tensor();
  }

 private:
  Pool2dGeometry geometry_;
  std::optional<TensorSignature> output_;
  Tensor argmax_;
};

// "k2 s2", "k3x2 s2x1 p1 ceil": the options for a layer's describe().
std::string pool2d_options_str(const Pool2dOptions& options);

}  // namespace i2v
