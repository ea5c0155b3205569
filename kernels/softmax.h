// Softmax over the channels of a tensor viewed as [outer, channels, inner]: dim 1 of NCHW
// (outer = N, inner = H·W) or of [N, C] (inner = 1). Each (n, s) is one row of `channels`
// values, reduced in three passes: the row's max m, then e_c = exp(x_c − m) and their sum S,
// then y_c = e_c / S. Subtracting the max keeps exp() from overflowing for any input, and
// log_sum_exp = m + log S is what cross-entropy needs.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

// y = softmax(x) over the channels; log_sum_exp[n · inner + s] = log Σ_c exp(x) (skipped when null).
I2V_DECLARE_FLOATING_KERNEL(void softmax_forward(const scalar_t* x, int64_t outer, int64_t channels, int64_t inner,
                                                 scalar_t* y, scalar_t* log_sum_exp))
// dx = y · (dy − Σ_c dy · y) per row, from the forward's output y.
I2V_DECLARE_FLOATING_KERNEL(void softmax_backward(const scalar_t* y, const scalar_t* dy, int64_t outer,
                                                  int64_t channels, int64_t inner, scalar_t* dx))
