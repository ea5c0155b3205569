// Convolutions on tensor cores as implicit GEMMs: the col matrix of im2col is never written to
// device memory, each stage's piece of it is gathered straight from the images into shared
// memory (kernels/conv_tensor_core.cu). For the sim and cuda devices when the matrix products are
// tf32 or bf16 (kernels/precision.h: `precision` is one of those); Conv2d (nn/layers/conv2d.h)
// picks them. Over a whole NCHW batch of
// `count` images, with rows = channels · kernel_h · kernel_w and P = out_pixels:
//   forward       y[n][o][p]         = bias[o] + Σ_r weight[o][r] · col[r][n·P + p]
//   weight grad   grad_weight[o][r] += Σ_{n,p} dy[n][o][p] · col[r][n·P + p]
//   input grad    grad_images        = the forward of dy with the kernel flipped and its in/out
//                                      channels swapped, padded kernel − 1 − pad (stride 1 only)
// where col = im2col(images) (kernels/im2col.h). weight is [out][rows], grad_weight accumulates.
// The weight gradient's reduction (count · P: 3.2 M for VGG's conv1_1 at batch 64) is split
// across blocks when its output has few tiles, each split writing its partial sums to a scratch
// buffer that a second kernel adds up in a fixed order: no atomics, so a run is bit-identical to
// itself.
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/dispatch.h"
#include "kernels/im2col.h"
#include "kernels/precision.h"

namespace i2v {

// Whether conv_input_grad_tensor_core computes this geometry's input gradient: stride 1 and padding at
// most kernel − 1 (the flipped forward's padding is not negative).
inline bool conv_input_grad_tensor_core_applies(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_h < g.kernel_h && g.pad_w < g.kernel_w;
}

}  // namespace i2v

// The forward and the input gradient write y and grad_images as f32, or as bf16 (the f32 result
// rounded once as it is stored: a layer passing bf16, nn/layer.h, gets the f32 kernel's output
// rounded without an f32 copy of it).
#define I2V_CONV_TENSOR_CORE_OUTPUTS(out_t)                                                                      \
  /* bias: [out_channels], or nullptr for none. */                                                              \
  void conv_forward_tensor_core(Precision precision, const float* weight, const float* bias, int64_t out_channels, \
                                const float* images, int64_t count, const ConvGeometry& geometry, out_t* y);      \
  /* Requires conv_input_grad_tensor_core_applies(geometry). */                                                 \
  void conv_input_grad_tensor_core(Precision precision, const float* weight, int64_t out_channels, const float* dy, \
                                   int64_t count, const ConvGeometry& geometry, out_t* grad_images);

I2V_DECLARE_GPU(
    I2V_CONV_TENSOR_CORE_OUTPUTS(float) I2V_CONV_TENSOR_CORE_OUTPUTS(bfloat16)
    void conv_weight_grad_tensor_core(Precision precision, const float* dy, int64_t out_channels,
                                      const float* images, int64_t count, const ConvGeometry& geometry,
                                      float* grad_weight);)
#undef I2V_CONV_TENSOR_CORE_OUTPUTS
