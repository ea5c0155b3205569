// Elementwise activations, forward and backward. Each element's math is an I2V_HD function
// shared by the CPU loop and the CUDA kernel.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

I2V_HD float relu(float x) { return x > 0.0f ? x : 0.0f; }
// d relu / dx at x, times the incoming gradient (0 at x == 0, as PyTorch).
I2V_HD float relu_grad(float x, float dy) { return x > 0.0f ? dy : 0.0f; }

}  // namespace i2v

I2V_DECLARE_KERNELS(
    // y[i] = relu(x[i]); y may alias x.
    void relu_forward(const float* x, float* y, int64_t n);
    // dx[i] = relu_grad(x[i], dy[i]); dx may alias dy.
    void relu_backward(const float* x, const float* dy, float* dx, int64_t n);)
