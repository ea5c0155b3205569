#include "nn/layers/conv2d.h"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/bias.h"
#include "kernels/error.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "nn/layers/checks.h"

namespace i2v {

struct Conv2d::Plan {
  ConvGeometry geometry;
  int64_t batch = 0;
  int64_t rows = 0;    // of col: in · kernel_h · kernel_w
  int64_t pixels = 0;  // output pixels per image
  int64_t group = 1;   // images per GEMM
  bool pointwise = false;  // 1×1, stride 1, no padding: one image is its own col matrix

  int64_t count(int64_t first) const { return std::min(group, batch - first); }
  // The group starting at `first` needs no im2col.
  bool direct(int64_t first) const { return pointwise && count(first) == 1; }
};

namespace {

// The weight's shape, once the arguments are checked.
Shape conv_weight_shape(int64_t in_channels, int64_t out_channels, Extent2d kernel, Extent2d stride,
                        Extent2d padding) {
  I2V_CHECK(in_channels > 0 && out_channels > 0, "conv2d: {} -> {} channels", in_channels, out_channels);
  I2V_CHECK(kernel.h > 0 && kernel.w > 0 && stride.h > 0 && stride.w > 0 && padding.h >= 0 && padding.w >= 0,
            "conv2d: kernel {}x{}, stride {}x{}, padding {}x{}: kernel and stride must be positive, padding "
            "non-negative", kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w);
  return {out_channels, in_channels, kernel.h, kernel.w};
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Extent2d kernel, Extent2d stride, Extent2d padding,
               bool bias)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      stride_(stride),
      padding_(padding),
      params_(conv_weight_shape(in_channels, out_channels, kernel, stride, padding), out_channels, bias) {}

void Conv2d::set_workspace_budget(int64_t elements) {
  I2V_CHECK(elements > 0, "{}: workspace budget of {} elements", describe(), elements);
  workspace_budget_ = elements;
}

std::string Conv2d::describe() const {
  auto extent = [](const Extent2d& e) { return e.h == e.w ? fmt::format("{}", e.h) : fmt::format("{}x{}", e.h, e.w); };
  return fmt::format("conv2d {}->{} k{} s{} p{}{}", in_channels_, out_channels_, extent(kernel_), extent(stride_),
                     extent(padding_), params_.has_bias() ? "" : " no-bias");
}

Conv2d::Plan Conv2d::plan(const Shape& input) const {
  I2V_CHECK(input.size() == 4 && input[1] == in_channels_, "{}: input of shape {}, expected [batch, {}, height, width]",
            describe(), shape_str(input), in_channels_);
  Plan p;
  p.geometry = ConvGeometry{in_channels_, input[2], input[3], kernel_.h, kernel_.w,
                            stride_.h,    stride_.w, padding_.h, padding_.w};
  I2V_CHECK(input[2] + 2 * padding_.h >= kernel_.h && input[3] + 2 * padding_.w >= kernel_.w,
            "{}: input of {}x{} pixels is smaller than the kernel", describe(), input[2], input[3]);
  p.batch = input[0];
  p.rows = p.geometry.col_rows();
  p.pixels = p.geometry.out_pixels();
  const int64_t per_image = std::max<int64_t>(1, std::max(p.rows, out_channels_) * p.pixels);
  p.group = std::clamp<int64_t>(workspace_budget_ / per_image, 1, std::max<int64_t>(1, p.batch));
  p.pointwise = kernel_.h == 1 && kernel_.w == 1 && stride_.h == 1 && stride_.w == 1 && padding_.h == 0 &&
                padding_.w == 0;
  return p;
}

Shape Conv2d::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const Plan p = plan(inputs[0]);
  return {p.batch, out_channels_, p.geometry.out_height(), p.geometry.out_width()};
}

int64_t Conv2d::forward_flops(const std::vector<Shape>& inputs) const {
  const Plan p = plan(inputs.at(0));
  const int64_t outputs = p.batch * out_channels_ * p.pixels;
  return 2 * outputs * p.rows + (params_.has_bias() ? outputs : 0);
}

Tensor Conv2d::forward(const std::vector<Tensor>& inputs, Mode mode) {
  const Shape out_shape = output_shape({inputs.at(0).shape()});
  const Tensor x = inputs[0].contiguous();
  params_.check_matches(*this, x);
  const Tensor& w = params_.weight.value;
  const Plan p = plan(x.shape());
  const Device device = x.device();
  const DType dtype = x.dtype();
  Tensor y = Tensor::empty(out_shape, dtype, device);
  Tensor col, y_group;  // allocated when a group needs them

  for (int64_t first = 0; first < p.batch; first += p.group) {
    const int64_t count = p.count(first), columns = count * p.pixels;
    const Tensor images = x.slice(0, first, first + count);
    if (!p.direct(first)) {
      if (!col.defined()) col = Tensor::empty({p.rows, p.group * p.pixels}, dtype, device);
      I2V_DISPATCH_FLOATING(device, dtype, im2col, images.data<scalar_t>(), count, p.geometry, col.data<scalar_t>());
    }
    const Tensor& col_matrix = p.direct(first) ? images : col;
    // One image's output is already [out][pixels]; a group's is [out][images · pixels].
    if (count > 1 && !y_group.defined()) y_group = Tensor::empty({out_channels_, p.group * p.pixels}, dtype, device);
    const Tensor out = count == 1 ? y.select(0, first) : y_group;
    I2V_DISPATCH_FLOATING(device, dtype, gemm, false, false, out_channels_, columns, p.rows, scalar_t(1),
                          w.data<scalar_t>(), p.rows, col_matrix.data<scalar_t>(), columns, scalar_t(0),
                          out.data<scalar_t>(), columns);
    if (count > 1)
      I2V_DISPATCH_FLOATING(device, dtype, swap_outer_axes, y_group.data<scalar_t>(), out_channels_, count, p.pixels,
                            y.select(0, first).data<scalar_t>());
  }
  if (params_.has_bias())
    I2V_DISPATCH_FLOATING(device, dtype, add_channel_bias, y.data<scalar_t>(), params_.bias.value.data<scalar_t>(), p.batch,
                          out_channels_, p.pixels);
  input_ = mode == Mode::train ? x : Tensor();
  return y;
}

std::vector<Tensor> Conv2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_, grad_output, input_.defined() ? output_shape({input_.shape()}) : Shape{});
  const Plan p = plan(input_.shape());
  const Device device = input_.device();
  const DType dtype = input_.dtype();
  const Tensor dy = grad_output.contiguous();
  const Tensor& w = params_.weight.value;
  const bool need_dx = need_input_grad.at(0), need_dw = params_.weight.requires_grad;

  if (params_.has_bias() && params_.bias.requires_grad)
    I2V_DISPATCH_FLOATING(device, dtype, channel_bias_grad, dy.data<scalar_t>(), p.batch, out_channels_, p.pixels,
                          params_.bias.grad.data<scalar_t>());
  Tensor dx = need_dx ? Tensor::empty(input_.shape(), dtype, device) : Tensor();
  if (!need_dx && !need_dw) return {dx};

  Tensor col, dy_group;  // allocated when a group needs them
  for (int64_t first = 0; first < p.batch; first += p.group) {
    const int64_t count = p.count(first), columns = count * p.pixels;
    // dy of the group as one [out][images · pixels] matrix.
    if (count > 1) {
      if (!dy_group.defined()) dy_group = Tensor::empty({out_channels_, p.group * p.pixels}, dtype, device);
      I2V_DISPATCH_FLOATING(device, dtype, swap_outer_axes, dy.select(0, first).data<scalar_t>(), count,
                            out_channels_, p.pixels, dy_group.data<scalar_t>());
    }
    const Tensor dy_matrix = count == 1 ? dy.select(0, first) : dy_group;
    if (!p.direct(first) && !col.defined()) col = Tensor::empty({p.rows, p.group * p.pixels}, dtype, device);

    if (need_dw) {
      const Tensor images = input_.slice(0, first, first + count);
      if (!p.direct(first))
        I2V_DISPATCH_FLOATING(device, dtype, im2col, images.data<scalar_t>(), count, p.geometry, col.data<scalar_t>());
      const Tensor& col_matrix = p.direct(first) ? images : col;
      I2V_DISPATCH_FLOATING(device, dtype, gemm, false, true, out_channels_, p.rows, columns, scalar_t(1),
                            dy_matrix.data<scalar_t>(), columns, col_matrix.data<scalar_t>(), columns, scalar_t(1),
                            params_.weight.grad.data<scalar_t>(), p.rows);
    }
    if (need_dx) {
      // The gradient of col (into col's buffer, which the weight gradient no longer needs), then
      // back to pixels; a direct group's col is its image, so the GEMM writes dx itself.
      const Tensor dx_images = dx.slice(0, first, first + count);
      const Tensor& dcol = p.direct(first) ? dx_images : col;
      I2V_DISPATCH_FLOATING(device, dtype, gemm, true, false, p.rows, columns, out_channels_, scalar_t(1),
                            w.data<scalar_t>(), p.rows, dy_matrix.data<scalar_t>(), columns, scalar_t(0),
                            dcol.data<scalar_t>(), columns);
      if (!p.direct(first))
        I2V_DISPATCH_FLOATING(device, dtype, col2im, col.data<scalar_t>(), count, p.geometry,
                              dx_images.data<scalar_t>());
    }
  }
  return {dx};
}

}  // namespace i2v
