// The CPU's fused convolution products for float on AVX-512 (kernels/gemm_avx512.cpp): the
// forward and weight-gradient GEMMs of Conv2d (nn/layers/conv2d.h) with op(B) = im2col(images)
// packed straight from a group of `count` NCHW images, so no col matrix (29 MB per image for
// VGG's conv3_2) is written to memory and read back:
//   forward       y[out][count · out_pixels]  = weight[out][rows] · im2col(images)
//   weight grad   grad_weight[out][rows]     += dy[out][count · out_pixels] · im2col(images)ᵀ
// with rows = channels · kernel_h · kernel_w. (The input gradient has no fused form: computing it
// as the convolution of dy with the flipped kernel, packed the same way, measured 5-10% slower
// on VGG's layers than a GEMM into col and col2im.)
#pragma once

#include <cstdint>

#include "kernels/im2col.h"

namespace i2v::cpu {

// Winograd F(2×2, 3×3) at bf16 (kernels/conv_winograd_avx512.cpp) for the forward and both
// gradients of a 3×3 convolution with stride 1 and padding 1: 2.25× fewer products than the
// direct convolution, over the whole batch at once (no groups, no col matrix, no col2im):
//   forward      y[batch][out][h][w]       = weight ⋆ images[batch][channels][h][w]   (no bias)
//   input grad   dx[batch][channels][h][w] = the 180°-turned weightᵀ ⋆ dy[batch][out][h][w]
//   weight grad  grad_weight[out][channels][3][3] += Σ over images and pixels of dy · images
// Its numbers: the transformed weights and inputs rounded to bf16, products exact, sums fp32, so
// ~2× further from fp32 than the direct bf16 products and within bf16's 1e-2.
// Applies at Precision::bf16 where the CPU computes bf16 with vdpbf16ps or rounded operands on
// FMAs (kernels/gemm.h's bf16_pairs, bf16_rounded; not on AMX, whose products are so fast that the
// transforms would cost more than they save), for ≥ 16 channels in and out (shallower products
// leave the micro-kernel mostly idle) and ≥ 256 tiles of 2×2 outputs in the batch (the weights'
// transform is paid once per call).
bool conv_winograd_applies(int64_t batch, int64_t out_channels, const ConvGeometry& geometry);

// For benchmarks and tests: while a WinogradOff lives, conv_winograd_applies answers false and
// Conv2d convolves directly (set it before the work it affects, not from a parallel region).
class WinogradOff {
 public:
  WinogradOff();
  ~WinogradOff();
  WinogradOff(const WinogradOff&) = delete;
  WinogradOff& operator=(const WinogradOff&) = delete;

 private:
  bool was_off_;
};

// Require conv_winograd_applies (but run any batch); `batch` images of geometry's size.
void conv_forward_winograd(const float* weight, int64_t out_channels, const float* images, int64_t batch,
                           const ConvGeometry& geometry, float* y);
void conv_input_grad_winograd(const float* weight, int64_t out_channels, const float* dy, int64_t batch,
                              const ConvGeometry& geometry, float* dx);
// grad_weight[out][channels][3][3] += the gradient of the Winograd forward (which in exact
// arithmetic is the convolution's own).
void conv_weight_grad_winograd(const float* dy, int64_t out_channels, const float* images, int64_t batch,
                               const ConvGeometry& geometry, float* grad_weight);

// Whether the fused products run for this group on this CPU: it has AVX-512 and the group's
// images hold fewer than 2³¹ elements (the packing's offsets are 32-bit lanes).
bool conv_avx512_applies(int64_t count, const ConvGeometry& geometry);

// Require conv_avx512_applies(count, geometry).
void conv_forward_avx512(const float* weight, int64_t out_channels, const float* images, int64_t count,
                         const ConvGeometry& geometry, float* y);
void conv_weight_grad_avx512(const float* dy, int64_t out_channels, const float* images, int64_t count,
                             const ConvGeometry& geometry, float* grad_weight);

}  // namespace i2v::cpu
