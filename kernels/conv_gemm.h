// A convolution of a group of `count` NCHW images as GEMMs over im2col (kernels/im2col.h),
// the three products of Conv2d (nn/layers/conv2d.h), with rows = channels · kernel_h · kernel_w
// and columns = count · out_pixels:
//   forward       y[out][columns]            = weight[out][rows] · im2col(images)
//   weight grad   grad_weight[out][rows]    += dy[out][columns] · im2col(images)ᵀ
//   input grad    grad_images                = col2im(weightᵀ · dy)
// dy is [out][columns] (one image's [out][out_pixels] when count == 1).
// `col` is a rows × columns workspace. The GPU and the portable CPU paths write im2col into it
// and run kernels/gemm.h; a pointwise geometry with count == 1 needs no im2col (the image is
// its own col matrix). The CPU's AVX-512 path for float packs the forward and weight-gradient
// GEMMs' operand straight from the images and leaves col unused: those two may then be passed
// nullptr (cpu::conv_gemm_packs_im2col). The input gradient always writes the gradient of col
// into the workspace, then col2im. (Computing it instead as the convolution of dy with the
// flipped kernel, packed the same way, measured 5-10% slower on VGG's layers here.)
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/im2col.h"

I2V_DECLARE_FLOATING_KERNEL(void conv_forward_gemm(const scalar_t* weight, int64_t out_channels,
                                                   const scalar_t* images, int64_t count,
                                                   const ConvGeometry& geometry, scalar_t* col, scalar_t* y))
I2V_DECLARE_FLOATING_KERNEL(void conv_weight_grad_gemm(const scalar_t* dy, int64_t out_channels,
                                                       const scalar_t* images, int64_t count,
                                                       const ConvGeometry& geometry, scalar_t* col,
                                                       scalar_t* grad_weight))
I2V_DECLARE_FLOATING_KERNEL(void conv_input_grad_gemm(const scalar_t* weight, int64_t out_channels,
                                                      const scalar_t* dy, int64_t count, const ConvGeometry& geometry,
                                                      scalar_t* col, scalar_t* grad_images))

namespace i2v::cpu {

// True when conv_forward_gemm and conv_weight_grad_gemm on float run fused for this group on
// this CPU, and need no col.
bool conv_gemm_packs_im2col(int64_t count, const ConvGeometry& geometry);

// The fused AVX-512 products (kernels/gemm_avx512.cpp), named so tests and benchmarks can run
// them. Require cpu_has_avx512f() and conv_gemm_avx512_fits(count, geometry): the images hold
// fewer than 2³¹ elements.
bool conv_gemm_avx512_fits(int64_t count, const ConvGeometry& geometry);
void conv_forward_avx512(const float* weight, int64_t out_channels, const float* images, int64_t count,
                         const ConvGeometry& geometry, float* y);
void conv_weight_grad_avx512(const float* dy, int64_t out_channels, const float* images, int64_t count,
                             const ConvGeometry& geometry, float* grad_weight);

}  // namespace i2v::cpu
