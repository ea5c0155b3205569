// Elementwise activations, forward and backward. Each element's math is an I2V_HD function
// shared by the CPU loop and the CUDA kernel.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

template <typename T>
I2V_HD T relu(T x) {
  return x > T(0) ? x : T(0);
}
// The incoming gradient through a ReLU at x (0 at x == 0, as PyTorch).
template <typename T>
I2V_HD T relu_grad(T x, T dy) {
  return x > T(0) ? dy : T(0);
}

}  // namespace i2v

// y[i] = relu(x[i]); y may alias x.
I2V_DECLARE_FLOATING_KERNEL(void relu_forward(const scalar_t* x, scalar_t* y, int64_t n))
// dx[i] = relu_grad(x[i], dy[i]); dx may alias dy.
I2V_DECLARE_FLOATING_KERNEL(void relu_backward(const scalar_t* x, const scalar_t* dy, scalar_t* dx, int64_t n))
