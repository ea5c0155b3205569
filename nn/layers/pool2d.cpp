#include "nn/layers/pool2d.h"

#include <functional>

#include <fmt/format.h>

#include "base/error.h"
#include "nn/layers/checks.h"
#include "nn/layers/kept_activation.h"

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

// For a bf16 pooling: calls visit(begin, end, piece) for pieces of whole planes [begin, end) of
// `g` (nn/layers/kept_activation.h), `piece` the geometry of those planes alone.
void for_each_plane_piece(Device device, const Pool2dGeometry& g,
                          const std::function<void(int64_t begin, int64_t end, const Pool2dGeometry& piece)>& visit) {
  for_each_piece(piece_elements(device), g.planes, g.in_h * g.in_w, [&](int64_t begin, int64_t end) {
    Pool2dGeometry piece = g;
    piece.planes = end - begin;
    visit(begin, end, piece);
  });
}

// Planes [begin, end) of t, an input, output or argmax of the pooling `g`: [end - begin, plane size].
Tensor planes(const Tensor& t, const Pool2dGeometry& g, int64_t begin, int64_t end) {
  return t.view({g.planes, t.numel() / g.planes}).slice(0, begin, end);
}

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
  if (x.dtype() == DType::bf16) {  // planes a piece at a time in f32, rounded back (exactly: a max)
    for_each_plane_piece(x.device(), g, [&](int64_t begin, int64_t end, const Pool2dGeometry& piece) {
      const Tensor x_piece = widened(planes(x, g, begin, end));
      const Tensor y_piece = Tensor::empty({piece.planes, g.out_h * g.out_w}, DType::f32, x.device());
      I2V_DISPATCH(x.device(), max_pool2d_forward, x_piece.data<float>(), piece, y_piece.data<float>(),
                   argmax_pointers(planes(argmax, g, begin, end)));
      planes(y, g, begin, end).copy_from(y_piece);
    });
  } else {
    I2V_DISPATCH_FLOATING(x.device(), x.dtype(), max_pool2d_forward, x.data<scalar_t>(), g, y.data<scalar_t>(),
                          argmax_pointers(argmax));
  }
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
  if (dy.dtype() == DType::bf16) {  // in f32 a piece at a time, each input's sum rounded once
    for_each_plane_piece(dy.device(), g, [&](int64_t begin, int64_t end, const Pool2dGeometry& piece) {
      const Tensor dy_piece = widened(planes(dy, g, begin, end));
      const Tensor dx_piece = Tensor::empty({piece.planes, g.in_h * g.in_w}, DType::f32, dy.device());
      I2V_DISPATCH(dy.device(), max_pool2d_backward, dy_piece.data<float>(),
                   argmax_pointers(planes(argmax_, g, begin, end)), piece, dx_piece.data<float>());
      planes(dx, g, begin, end).copy_from(dx_piece);
    });
  } else {
    I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), max_pool2d_backward, dy.data<scalar_t>(), argmax_pointers(argmax_),
                          g, dx.data<scalar_t>());
  }
  return {dx};
}

}  // namespace i2v
