// Conv2d: y[n][o] = bias[o] + Σ_c weight[o][c] ⋆ x[n][c], with any kernel size, stride and zero
// padding (dilation 1, no groups). Weight [out, in, kernel_h, kernel_w], bias [out] (PyTorch's
// layouts and names).
//
// Computed as GEMMs over im2col (kernels/im2col.h, kernels/gemm.h), a group of images at a time
// (as many as fit the workspace budget), on every device (Caffe's three steps; the CPU's
// AVX-512 path fuses im2col into the first two, kernels/conv_avx512.h):
//   forward        y_group[out][images · pixels] = weight[out][rows] · col[rows][images · pixels]
//   weight grad    grad_weight[out][rows] += dy_group[out][images · pixels] · colᵀ
//   input grad     dcol = weightᵀ · dy_group, then col2im
// where rows = in · kernel_h · kernel_w and col = im2col(images of the group); a group's output
// and gradient move between [out][images · pixels] and NCHW with swap_outer_axes. At bf16 on the
// CPU's AVX-512 paths a 3×3 convolution with stride 1 and padding 1 runs all three by Winograd
// F(2×2, 3×3) over the whole batch instead (kernels/conv_avx512.h).
#pragma once

#include "kernels/im2col.h"
#include "nn/layer.h"
#include "nn/layers/kept_activation.h"
#include "nn/layers/weight_and_bias.h"

namespace i2v {

// A height and a width (kernel size, stride, padding); one number means both.
struct Extent2d {
  int64_t h, w;
  Extent2d(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, as PyTorch's int-or-pair
  Extent2d(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

class Conv2d final : public Layer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Extent2d kernel, Extent2d stride = 1, Extent2d padding = 0,
         bool bias = true);

  std::string kind() const override { return "conv2d"; }
  // "conv2d 3->64 k3 s1 p1", "conv2d 64->64 k1x3 s2x1 p0x1 no-bias"
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return params_.named(); }
  void clear_saved() override { input_ = KeptActivation(); }
  Bf16 bf16() const override { return Bf16::passed; }

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  Extent2d kernel() const { return kernel_; }
  Extent2d stride() const { return stride_; }
  Extent2d padding() const { return padding_; }
  Parameter& weight() { return params_.weight; }
  Parameter& bias() { return params_.bias; }  // undefined value when built without bias

  // The most elements a group's col matrix, and its [out][images · pixels] output or gradient,
  // may hold (one image always fits, whatever its size; groups are evened out); and, passing
  // bf16 (nn/layer.h), the images of a piece widened to f32 (of the larger of input and output).
  // The default, 6 Mi (24 MiB in float), stays under glibc's 32 MiB mmap threshold: larger
  // blocks come back as fresh pages on every call, whose first touch costs ~15 ms per 32 MiB
  // here. Fewer bound the workspace; more put more images into each GEMM. (For the pieces: i2v-
  // tag's bf16 step at 224×224 batch 64 on the cpu took 6.90 s in pieces of 1 Mi elements, 6.00 s
  // of 4 Mi, 5.86 s of 8 Mi and 5.79 s of 16 Mi or passing f32, peaking at 2,125, 2,127, 2,135
  // and 2,214 MiB: each piece pays the Winograd transforms of the weights and a pass over the
  // weight gradient again.)
  void set_workspace_budget(int64_t elements);

 private:
  struct Plan;  // how one batch is computed (conv2d.cpp)
  // The geometry of one input image; throws unless `input` is [batch, in, height, width] with
  // room for the kernel.
  ConvGeometry geometry(const Shape& input) const;
  // For a forward pass, or a backward one with or without the input gradient.
  Plan plan(const Shape& input, Device device, DType dtype, bool input_grad) const;
  // Calls visit(begin, end) for consecutive ranges of the batch `input` shapes: pieces of a bf16
  // pass, as many images each as the workspace budget holds of the larger of an image and its
  // output (at least one).
  void for_each_image_piece(const Shape& input, const std::function<void(int64_t begin, int64_t end)>& visit) const;
  // Writes the output of the contiguous images x (f32, or f64), computed as `plan` says, into y:
  // of x's dtype, or bf16 for an f32 x (rounded once).
  void forward_images(const Tensor& x, Tensor y) const;
  // Writes the input gradient of the images of shape `images` for their output gradient dy
  // (contiguous, f32 or f64) into dx where it is defined (dy's dtype, or bf16 for an f32 dy);
  // adds their weight gradient where `input` (the images, as dy's dtype) is defined, and their
  // bias gradient.
  void backward_images(const Tensor& dy, const Shape& images, const Tensor& input, Tensor dx);

  int64_t in_channels_, out_channels_;
  Extent2d kernel_, stride_, padding_;
  WeightAndBias params_;
  int64_t workspace_budget_ = int64_t(6) << 20;
  KeptActivation input_;  // kept by a train-mode forward
};

}  // namespace i2v
