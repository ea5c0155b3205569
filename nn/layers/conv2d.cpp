#include "nn/layers/conv2d.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error.h"
#include "kernels/bias.h"
#include "kernels/conv_avx512.h"
#include "kernels/conv_tensor_core.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "kernels/precision.h"
#include "nn/layers/checks.h"

namespace i2v {

// How Conv2d computes one pass over a batch, decided once (Conv2d::plan).
struct Conv2d::Plan {
  enum class Path {
    // Caffe's three steps, on every device and in double: im2col into a workspace, a GEMM,
    // col2im for the input gradient.
    im2col_gemm,
    // Float on a CPU with AVX-512: the forward and weight-gradient GEMMs pack im2col straight
    // from the images (kernels/conv_avx512.h); the input gradient as im2col_gemm. In bf16 these
    // and the GEMMs of im2col_gemm round their operands as kernels/gemm.h's cpu_arithmetic() says.
    fused_avx512,
    // Float on a GPU in tf32 or bf16 (kernels/precision.h): implicit GEMMs on tensor cores over
    // the whole batch, bias added by the forward (kernels/conv_tensor_core.h); the input gradient
    // too where its geometry allows (implicit_input_grad), as im2col_gemm otherwise.
    implicit_tensor_core,
  };
  Path path = Path::im2col_gemm;
  bool implicit_input_grad = false;
  // fused_avx512 at bf16, 3×3 with stride 1 and padding 1: the forward and both gradients by
  // Winograd F(2×2, 3×3) over the whole batch (kernels/conv_avx512.h).
  bool winograd = false;
  ConvGeometry geometry;
  int64_t batch = 0;
  int64_t rows = 0;    // of col: in · kernel_h · kernel_w
  int64_t pixels = 0;  // output pixels per image
  int64_t group = 1;   // images per GEMM
  // Whether a group's col matrix (or its gradient) goes through a workspace: not for a pointwise
  // convolution one image at a time, whose col matrix is the image itself.
  bool col_workspace = true;

  int64_t count(int64_t first) const { return std::min(group, batch - first); }
  Tensor workspace(DType dtype, Device device) const { return Tensor::empty({rows, group * pixels}, dtype, device); }
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

ConvGeometry Conv2d::geometry(const Shape& input) const {
  I2V_CHECK(input.size() == 4 && input[1] == in_channels_, "{}: input of shape {}, expected [batch, {}, height, width]",
            describe(), shape_str(input), in_channels_);
  I2V_CHECK(input[2] + 2 * padding_.h >= kernel_.h && input[3] + 2 * padding_.w >= kernel_.w,
            "{}: input of {}x{} pixels is smaller than the kernel", describe(), input[2], input[3]);
  return {in_channels_, input[2], input[3], kernel_.h, kernel_.w, stride_.h, stride_.w, padding_.h, padding_.w};
}

namespace {

// Columns a GEMM needs to run near full speed: a few thousand (the CPU kernel packs up to 4608
// at a time; a 128×128-tile GPU grid over 512 rows needs ~4000 to fill 132 SMs).
constexpr int64_t kGemmColumns = 3072;

// Images per group: enough for kGemmColumns columns (VGG's 14×14 layers: all 8 of a batch;
// its 56×56 ones: 1), no more than the budget allows at `per_image` workspace elements each,
// then evened out (8 images in groups of 3, 3 and 2 become 3, 3, 2; of 6 and 2, 4 and 4).
int64_t balanced_group(int64_t batch, int64_t pixels, int64_t budget, int64_t per_image) {
  const int64_t wanted = (kGemmColumns + pixels - 1) / std::max<int64_t>(1, pixels);
  const int64_t most = std::clamp<int64_t>(std::min(wanted, budget / std::max<int64_t>(1, per_image)), 1,
                                           std::max<int64_t>(1, batch));
  const int64_t groups = (batch + most - 1) / most;
  return std::max<int64_t>(1, (batch + groups - 1) / groups);
}

}  // namespace

Conv2d::Plan Conv2d::plan(const Shape& input, Device device, DType dtype, bool input_grad) const {
  Plan p;
  p.geometry = geometry(input);
  p.batch = input[0];
  p.rows = p.geometry.col_rows();
  p.pixels = p.geometry.out_pixels();
  // A group's output and dy take out · pixels elements per image; a col workspace, rows · pixels
  // more (for the input gradient, the gradient of col).
  p.group = balanced_group(p.batch, p.pixels, workspace_budget_, out_channels_ * p.pixels);
  if (device.is_cpu() && dtype == DType::f32 && cpu::conv_avx512_applies(p.group, p.geometry))
    p.path = Plan::Path::fused_avx512;
  else if (!device.is_cpu() && dtype == DType::f32 && matmul_precision() != Precision::fp32)
    p.path = Plan::Path::implicit_tensor_core;
  p.implicit_input_grad =
      p.path == Plan::Path::implicit_tensor_core && conv_input_grad_tensor_core_applies(p.geometry);
  p.winograd = p.path == Plan::Path::fused_avx512 && cpu::conv_winograd_applies(p.batch, out_channels_, p.geometry);
  // Groups and a col workspace serve the products that run as im2col_gemm.
  const bool needs_col =
      (input_grad && !p.implicit_input_grad && !p.winograd) || p.path == Plan::Path::im2col_gemm;
  if (needs_col)
    p.group = balanced_group(p.batch, p.pixels, workspace_budget_, std::max(p.rows, out_channels_) * p.pixels);
  p.col_workspace = needs_col && !(p.geometry.is_pointwise() && p.group == 1);
  return p;
}

Shape Conv2d::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  const ConvGeometry g = geometry(inputs[0]);
  return {inputs[0][0], out_channels_, g.out_height(), g.out_width()};
}

int64_t Conv2d::forward_flops(const std::vector<Shape>& inputs) const {
  const ConvGeometry g = geometry(inputs.at(0));
  const int64_t outputs = inputs[0][0] * out_channels_ * g.out_pixels();
  return 2 * outputs * g.col_rows() + (params_.has_bias() ? outputs : 0);
}

namespace {

// The col matrix of a group of `count` images starting at `images`: im2col written into the
// workspace, or the images themselves when the plan needs no workspace.
Tensor col_matrix(const Tensor& images, int64_t count, const ConvGeometry& g, bool col_workspace,
                  const Tensor& workspace) {
  if (!col_workspace) return images;
  I2V_DISPATCH_FLOATING(images.device(), images.dtype(), im2col, images.data<scalar_t>(), count, g,
                        workspace.data<scalar_t>());
  return workspace;
}

// c = op(a) · op(b) + beta · c over row-major matrices held by tensors (kernels/gemm.h).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const Tensor& a, int64_t lda, const Tensor& b,
          int64_t ldb, double beta, const Tensor& c, int64_t ldc) {
  I2V_DISPATCH_FLOATING(c.device(), c.dtype(), gemm, trans_a, trans_b, m, n, k, scalar_t(1), a.data<scalar_t>(), lda,
                        b.data<scalar_t>(), ldb, scalar_t(beta), c.data<scalar_t>(), ldc);
}

// Calls write(out) with out the tensor's data as the f32 or bf16 it holds: the tensor-core
// kernels round into a bf16 destination themselves.
template <class Write>
void with_f32_or_bf16_data(const Tensor& destination, Write write) {
  if (destination.dtype() == DType::bf16) write(destination.data<bfloat16>());
  else write(destination.data<float>());
}

}  // namespace

void Conv2d::for_each_image_piece(const Shape& input,
                                  const std::function<void(int64_t begin, int64_t end)>& visit) const {
  const Shape output = output_shape({input});
  const int64_t per_image = std::max(shape_numel(input), shape_numel(output)) / std::max<int64_t>(1, input[0]);
  for_each_piece(workspace_budget_, input[0], std::max<int64_t>(1, per_image), visit);
}

Tensor Conv2d::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  const Tensor x = inputs[0].contiguous();
  geometry(x.shape());
  input_ = mode == Mode::train ? KeptActivation(x) : KeptActivation();
  const Tensor y = Tensor::empty(output_shape({x.shape()}), x.dtype(), x.device());
  if (x.dtype() != DType::bf16) {
    forward_images(x, y);
    return y;
  }
  // Passed in bf16 (nn/layer.h): a piece of images at a time widened, convolved in f32 and its
  // output rounded (by the tensor-core kernel as it stores it), so that neither the input nor the
  // output exists whole in f32.
  for_each_image_piece(x.shape(), [&](int64_t begin, int64_t end) {
    forward_images(widened(x.slice(0, begin, end)), y.slice(0, begin, end));
  });
  return y;
}

void Conv2d::forward_images(const Tensor& x, Tensor y) const {
  params_.check_matches(*this, x);
  const Tensor& w = params_.weight.value;
  const Device device = x.device();
  const DType dtype = x.dtype();
  const Plan p = plan(x.shape(), device, dtype, false);
  if (p.path == Plan::Path::implicit_tensor_core) {  // writes f32 or bf16 itself
    const float* bias = params_.has_bias() ? params_.bias.value.data<float>() : nullptr;
    with_f32_or_bf16_data(y, [&](auto* out) {
      I2V_DISPATCH_GPU(device, conv_forward_tensor_core, matmul_precision(), w.data<float>(), bias, out_channels_,
                       x.data<float>(), p.batch, p.geometry, out);
    });
    return;
  }
  // The other paths write x's dtype: a bf16 y is rounded from their output.
  const Tensor out = y.dtype() == dtype ? y : Tensor::empty(y.shape(), dtype, device);
  if (p.winograd) {
    I2V_CALL_CPU(conv_forward_winograd, w.data<float>(), out_channels_, x.data<float>(), p.batch, p.geometry,
                 out.data<float>());
  } else {
    const Tensor col = p.col_workspace ? p.workspace(dtype, device) : Tensor();
    Tensor y_group;  // a group's output is [out][images · pixels]; one image's is already y's layout
    if (p.group > 1) y_group = Tensor::empty({out_channels_, p.group * p.pixels}, dtype, device);

    for (int64_t first = 0; first < p.batch; first += p.group) {
      const int64_t count = p.count(first), columns = count * p.pixels;
      const Tensor images = x.select(0, first), group_out = count == 1 ? out.select(0, first) : y_group;
      switch (p.path) {
        case Plan::Path::fused_avx512:
          I2V_CALL_CPU(conv_forward_avx512, w.data<float>(), out_channels_, images.data<float>(), count, p.geometry,
                       group_out.data<float>());
          break;
        case Plan::Path::im2col_gemm:
          gemm(false, false, out_channels_, columns, p.rows, w, p.rows,
               col_matrix(images, count, p.geometry, p.col_workspace, col), columns, 0.0, group_out, columns);
          break;
        case Plan::Path::implicit_tensor_core:
          I2V_THROW("{}: the tensor-core forward runs on the whole batch", describe());
      }
      if (count > 1)
        I2V_DISPATCH_FLOATING(device, dtype, swap_outer_axes, y_group.data<scalar_t>(), out_channels_, count, p.pixels,
                              out.select(0, first).data<scalar_t>());
    }
  }
  if (params_.has_bias())
    I2V_DISPATCH_FLOATING(device, dtype, add_channel_bias, out.data<scalar_t>(), params_.bias.value.data<scalar_t>(),
                          p.batch, out_channels_, p.pixels);
  if (y.dtype() != dtype) y.copy_from(out);
}

std::vector<Tensor> Conv2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_.signature(), grad_output,
                       input_.defined() ? output_shape({input_.shape()}) : Shape{});
  const bool need_dx = need_input_grad.at(0), need_dw = params_.weight.requires_grad;
  const Tensor dy = grad_output.contiguous();
  const Tensor dx = need_dx ? Tensor::empty(input_.shape(), dy.dtype(), dy.device()) : Tensor();
  if (dy.dtype() != DType::bf16) {
    backward_images(dy, input_.shape(), need_dw ? input_.whole() : Tensor(), dx);
    return {dx};
  }
  // Passed in bf16, as the forward: a piece of images at a time, the weight gradient summed over
  // the pieces in f32 and each input gradient rounded once.
  for_each_image_piece(input_.shape(), [&](int64_t begin, int64_t end) {
    Shape images = input_.shape();
    images[0] = end - begin;
    backward_images(widened(dy.slice(0, begin, end)), images, need_dw ? input_.samples(begin, end) : Tensor(),
                    need_dx ? dx.slice(0, begin, end) : Tensor());
  });
  return {dx};
}

void Conv2d::backward_images(const Tensor& dy, const Shape& images, const Tensor& input, Tensor dx) {
  const Device device = dy.device();
  const DType dtype = dy.dtype();
  const bool need_dw = input.defined(), need_dx = dx.defined();
  const Plan p = plan(images, device, dtype, need_dx);
  const Tensor& w = params_.weight.value;
  // The tensor-core input gradient writes f32 or bf16 itself; the other paths write dy's dtype,
  // into a temporary that a bf16 dx is rounded from.
  const bool rounded_dx = need_dx && !p.implicit_input_grad && dx.dtype() != dtype;
  const Tensor dx_out = rounded_dx ? Tensor::empty(images, dtype, device) : dx;

  if (params_.has_bias() && params_.bias.requires_grad)
    I2V_DISPATCH_FLOATING(device, dtype, channel_bias_grad, dy.data<scalar_t>(), p.batch, out_channels_, p.pixels,
                          params_.bias.grad.data<scalar_t>());
  if (p.path == Plan::Path::implicit_tensor_core) {  // the whole batch at once; what is left runs below
    if (need_dw)
      I2V_DISPATCH_GPU(device, conv_weight_grad_tensor_core, matmul_precision(), dy.data<float>(), out_channels_,
                       input.data<float>(), p.batch, p.geometry, params_.weight.grad.data<float>());
    if (need_dx && p.implicit_input_grad)
      with_f32_or_bf16_data(dx, [&](auto* out) {
        I2V_DISPATCH_GPU(device, conv_input_grad_tensor_core, matmul_precision(), w.data<float>(), out_channels_,
                         dy.data<float>(), p.batch, p.geometry, out);
      });
  }
  if (need_dx && p.winograd)
    I2V_CALL_CPU(conv_input_grad_winograd, w.data<float>(), out_channels_, dy.data<float>(), p.batch, p.geometry,
                 dx_out.data<float>());
  if (need_dw && p.winograd)
    I2V_CALL_CPU(conv_weight_grad_winograd, dy.data<float>(), out_channels_, input.data<float>(), p.batch,
                 p.geometry, params_.weight.grad.data<float>());
  const bool group_dw = need_dw && p.path != Plan::Path::implicit_tensor_core && !p.winograd;
  const bool group_dx = need_dx && !p.implicit_input_grad && !p.winograd;
  if (group_dw || group_dx) {
    const Tensor col = p.col_workspace ? p.workspace(dtype, device) : Tensor();
    Tensor dy_group;  // dy of a group as one [out][images · pixels] matrix
    if (p.group > 1) dy_group = Tensor::empty({out_channels_, p.group * p.pixels}, dtype, device);
    for (int64_t first = 0; first < p.batch; first += p.group) {
      const int64_t count = p.count(first), columns = count * p.pixels;
      if (count > 1)
        I2V_DISPATCH_FLOATING(device, dtype, swap_outer_axes, dy.select(0, first).data<scalar_t>(), count,
                              out_channels_, p.pixels, dy_group.data<scalar_t>());
      const Tensor dy_matrix = count == 1 ? dy.select(0, first) : dy_group;
      if (group_dw) {
        const Tensor images = input.select(0, first);
        switch (p.path) {
          case Plan::Path::fused_avx512:
            I2V_CALL_CPU(conv_weight_grad_avx512, dy_matrix.data<float>(), out_channels_, images.data<float>(), count,
                         p.geometry, params_.weight.grad.data<float>());
            break;
          case Plan::Path::im2col_gemm:
            gemm(false, true, out_channels_, p.rows, columns, dy_matrix, columns,
                 col_matrix(images, count, p.geometry, p.col_workspace, col), columns, 1.0, params_.weight.grad,
                 p.rows);
            break;
          case Plan::Path::implicit_tensor_core:
            I2V_THROW("{}: the tensor-core weight gradient runs on the whole batch", describe());
        }
      }
      if (group_dx) {
        // dcol = weightᵀ · dy, then col2im; a pointwise image's dcol is its gradient.
        const Tensor dx_images = dx_out.select(0, first), dcol = p.col_workspace ? col : dx_images;
        gemm(true, false, p.rows, columns, out_channels_, w, p.rows, dy_matrix, columns, 0.0, dcol, columns);
        if (p.col_workspace)
          I2V_DISPATCH_FLOATING(device, dtype, col2im, col.data<scalar_t>(), count, p.geometry,
                                dx_images.data<scalar_t>());
      }
    }
  }
  if (rounded_dx) dx.copy_from(dx_out);
}

}  // namespace i2v
