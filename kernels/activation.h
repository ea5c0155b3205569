// Elementwise activations, forward and backward. Each element's math is an I2V_HD function
// shared by the CPU loop and the CUDA kernel.
#pragma once

#include <cmath>
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

template <typename T>
I2V_HD T leaky_relu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
// slope · dy at x == 0, as PyTorch's leaky_relu_backward (x > 0 ? dy : slope · dy).
template <typename T>
I2V_HD T leaky_relu_grad(T x, T dy, T slope) {
  return x > T(0) ? dy : slope * dy;
}

// 1 / (1 + e^-x), evaluated so that exp() never overflows: for x < 0 as e^x / (1 + e^x).
template <typename T>
I2V_HD T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
// From the output y = sigmoid(x): dy · y · (1 − y).
template <typename T>
I2V_HD T sigmoid_grad_from_output(T y, T dy) {
  return dy * y * (T(1) - y);
}

// The per-element bodies the CPU loop and the CUDA kernel both run (for_each_element).
template <typename T>
struct ReluForward {
  const T* x;
  T* y;
  I2V_HD void operator()(int64_t i) const { y[i] = relu(x[i]); }
};
template <typename T>
struct ReluBackward {
  const T* x;
  const T* dy;
  T* dx;
  I2V_HD void operator()(int64_t i) const { dx[i] = relu_grad(x[i], dy[i]); }
};
template <typename T>
struct LeakyReluForward {
  const T* x;
  T* y;
  T slope;
  I2V_HD void operator()(int64_t i) const { y[i] = leaky_relu(x[i], slope); }
};
template <typename T>
struct LeakyReluBackward {
  const T* x;
  const T* dy;
  T* dx;
  T slope;
  I2V_HD void operator()(int64_t i) const { dx[i] = leaky_relu_grad(x[i], dy[i], slope); }
};
template <typename T>
struct SigmoidForward {
  const T* x;
  T* y;
  I2V_HD void operator()(int64_t i) const { y[i] = sigmoid(x[i]); }
};
template <typename T>
struct SigmoidBackward {
  const T* y;
  const T* dy;
  T* dx;
  I2V_HD void operator()(int64_t i) const { dx[i] = sigmoid_grad_from_output(y[i], dy[i]); }
};

}  // namespace i2v

// y[i] = relu(x[i]); y may alias x.
I2V_DECLARE_FLOATING_KERNEL(void relu_forward(const scalar_t* x, scalar_t* y, int64_t n))
// dx[i] = relu_grad(x[i], dy[i]); dx may alias dy.
I2V_DECLARE_FLOATING_KERNEL(void relu_backward(const scalar_t* x, const scalar_t* dy, scalar_t* dx, int64_t n))
// y[i] = leaky_relu(x[i], slope); y may alias x.
I2V_DECLARE_FLOATING_KERNEL(void leaky_relu_forward(const scalar_t* x, scalar_t* y, int64_t n, scalar_t slope))
// dx[i] = leaky_relu_grad(x[i], dy[i], slope); dx may alias dy.
I2V_DECLARE_FLOATING_KERNEL(void leaky_relu_backward(const scalar_t* x, const scalar_t* dy, scalar_t* dx, int64_t n,
                                                     scalar_t slope))
// y[i] = sigmoid(x[i]); y may alias x.
I2V_DECLARE_FLOATING_KERNEL(void sigmoid_forward(const scalar_t* x, scalar_t* y, int64_t n))
// dx[i] = sigmoid_grad_from_output(y[i], dy[i]) from the forward's output y; dx may alias dy.
I2V_DECLARE_FLOATING_KERNEL(void sigmoid_backward(const scalar_t* y, const scalar_t* dy, scalar_t* dx, int64_t n))
