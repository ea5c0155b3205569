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

// Whether the fused products run for this group on this CPU: it has AVX-512 and the group's
// images hold fewer than 2³¹ elements (the packing's offsets are 32-bit lanes).
bool conv_avx512_applies(int64_t count, const ConvGeometry& geometry);

// Require conv_avx512_applies(count, geometry).
void conv_forward_avx512(const float* weight, int64_t out_channels, const float* images, int64_t count,
                         const ConvGeometry& geometry, float* y);
void conv_weight_grad_avx512(const float* dy, int64_t out_channels, const float* images, int64_t count,
                             const ConvGeometry& geometry, float* grad_weight);

}  // namespace i2v::cpu
