// Per-channel bias of Conv2d and Linear: y[i][c][p] += bias[c] over an [outer][channels][inner]
// tensor (NCHW: outer = images, inner = pixels; Linear: outer = rows, inner = 1), and its
// gradient, the sum of dy over every axis but the channel.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

// y[i][c][p] += bias[c].
I2V_DECLARE_FLOATING_KERNEL(void add_channel_bias(scalar_t* y, const scalar_t* bias, int64_t outer, int64_t channels,
                                                  int64_t inner))
// bias_grad[c] += Σ_i Σ_p dy[i][c][p] (accumulates, as parameter gradients do).
I2V_DECLARE_FLOATING_KERNEL(void channel_bias_grad(const scalar_t* dy, int64_t outer, int64_t channels,
                                                   int64_t inner, scalar_t* bias_grad))
