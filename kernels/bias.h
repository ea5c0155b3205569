// Per-channel bias of Conv2d and Linear: y[i][c][p] += bias[c] over an [outer][channels][inner]
// tensor (NCHW: outer = images, inner = pixels; Linear: outer = rows, inner = 1), and its
// gradient, the sum of dy over every axis but the channel (kernels/reduce.h's channel sums).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

// y[i] += bias[channel of element i].
template <typename T>
struct AddChannelBias {
  T* y;
  const T* bias;
  int64_t channels, inner;
  I2V_HD void operator()(int64_t i) const { y[i] += bias[i / inner % channels]; }
};

// grad[c] += sums[c].
template <typename T>
struct AddChannelSums {
  const T* sums;
  T* grad;
  I2V_HD void operator()(int64_t c) const { grad[c] += sums[c]; }
};

}  // namespace i2v

// y[i][c][p] += bias[c].
I2V_DECLARE_FLOATING_KERNEL(void add_channel_bias(scalar_t* y, const scalar_t* bias, int64_t outer, int64_t channels,
                                                  int64_t inner))
// bias_grad[c] += Σ_i Σ_p dy[i][c][p] (accumulates, as parameter gradients do).
I2V_DECLARE_FLOATING_KERNEL(void channel_bias_grad(const scalar_t* dy, int64_t outer, int64_t channels,
                                                   int64_t inner, scalar_t* bias_grad))
