#include "nn/layers/pool2d.h"

#include <fmt/format.h>

#include "base/error.h"
#include "nn/layers/checks.h"

namespace i2v {

Pool2dOptions Pool2dOptions::square(int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
  const int64_t s = stride == 0 ? kernel : stride;
  return {kernel, kernel, s, s, pad, pad, ceil_mode};
}

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
  I2V_CHECK(kernel > 0 && stride > 0, "kernel {} and stride {} must be positive", kernel, stride);
  I2V_CHECK(pad >= 0 && pad <= kernel / 2, "padding {} must be between 0 and half the kernel ({})", pad, kernel);
  // PyTorch's pooling_output_shape: a division rounding towards −∞ (the span may be negative).
  const int64_t span = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  I2V_CHECK(out >= 1, "an input of {} pooled by a kernel of {} with padding {} leaves no output", in, kernel, pad);
  return out;
}

Pool2dGeometry pool2d_geometry(const Layer& layer, const Pool2dOptions& o, const Shape& input) {
  check_rank(layer, input, 4, "NCHW");
  Pool2dGeometry g;
  g.planes = input[0] * input[1];
  g.in_h = input[2];
  g.in_w = input[3];
  g.kernel_h = o.kernel_h, g.kernel_w = o.kernel_w;
  g.stride_h = o.stride_h, g.stride_w = o.stride_w;
  g.pad_h = o.pad_h, g.pad_w = o.pad_w;
  try {
    g.out_h = pool_output_size(g.in_h, o.kernel_h, o.stride_h, o.pad_h, o.ceil_mode);
    g.out_w = pool_output_size(g.in_w, o.kernel_w, o.stride_w, o.pad_w, o.ceil_mode);
  } catch (const Error& e) {
    I2V_THROW("{}: input {}: {}", layer.describe(), shape_str(input), e.message());
  }
  return g;
}

namespace {
std::string pair_str(int64_t h, int64_t w) { return h == w ? fmt::format("{}", h) : fmt::format("{}x{}", h, w); }
}  // namespace

std::string pool2d_options_str(const Pool2dOptions& o) {
  std::string text = "k" + pair_str(o.kernel_h, o.kernel_w) + " s" + pair_str(o.stride_h, o.stride_w);
  if (o.pad_h != 0 || o.pad_w != 0) text += " p" + pair_str(o.pad_h, o.pad_w);
  if (o.ceil_mode) text += " ceil";
  return text;
}

namespace {

// The kernels' view of an argmax tensor, u8 or i32.
PoolArgmax argmax_pointers(const Tensor& argmax) {
  PoolArgmax pointers;
  if (argmax.dtype() == DType::u8)
    pointers.bytes = argmax.data<uint8_t>();
  else
    pointers.words = argmax.data<int32_t>();
  return pointers;
}

}  // namespace

Tensor MaxPoolRoute::forward(const Tensor& x, const Pool2dGeometry& g, const Shape& out_shape, Mode mode) {
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(out_shape, PoolArgmax::fits_bytes(g) ? DType::u8 : DType::i32, x.device());
  // A bf16 x too (kernels/pool.h: compared in f32, the maximum stored as it is).
  I2V_DISPATCH_FLOATING_OR_BF16(x.device(), x.dtype(), max_pool2d_forward, x.data<scalar_t>(), g, y.data<scalar_t>(),
                                argmax_pointers(argmax));
  clear();
  if (mode == Mode::train) {
    geometry_ = g;
    output_ = TensorSignature::of(y);
    argmax_ = argmax;
  }
  return y;
}

std::vector<Tensor> MaxPoolRoute::backward(const Layer& layer, const Tensor& grad_output,
                                           const std::vector<bool>& need_input_grad) const {
  check_backward_ready(layer, output_, grad_output);
  if (!need_input_grad.at(0)) return {Tensor()};
  const Tensor dy = grad_output.contiguous();
  const Pool2dGeometry& g = geometry_;
  Tensor dx = Tensor::empty({dy.size(0), dy.size(1), g.in_h, g.in_w}, dy.dtype(), dy.device());
  // A bf16 dy too (kernels/pool.h: each input's gradients summed in f32, rounded once).
  I2V_DISPATCH_FLOATING_OR_BF16(dy.device(), dy.dtype(), max_pool2d_backward, dy.data<scalar_t>(),
                                argmax_pointers(argmax_), g, dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
