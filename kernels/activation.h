// Elementwise activations, forward and backward, and scaling by a constant. Each function's math
// is an I2V_HD functor (ReluMath, ...) shared by the CPU loop and the CUDA kernel.
//
// Every kernel also takes bf16 tensors (activations passed between layers at bf16, nn/layer.h):
// each element is widened to f32, computed as the f32 kernel computes it and rounded once as it
// is stored (compute_t, kernels/bfloat16.h), so the result is the f32 kernel's on the widened
// input, rounded, bit for bit, in one pass over 2-byte elements instead of a widening pass, the
// f32 kernel and a rounding pass.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

// Each function's math over the compute type C (float or double): forward(x), and backward(kept,
// dy), the incoming gradient from the tensor the layer keeps (the input, or the output where
// the derivative is cheaper from it).
template <typename C>
struct ReluMath {
  // As PyTorch's (clamp_min and threshold_backward), comparisons that a NaN fails: a NaN passes
  // through both ways, so a diverging network shows in its loss instead of being zeroed here;
  // -0 stays -0; the gradient is 0 at x == 0.
  I2V_HD C forward(C x) const { return x < C(0) ? C(0) : x; }
  I2V_HD C backward(C x, C dy) const { return x <= C(0) ? C(0) : dy; }
};

template <typename C>
struct LeakyReluMath {
  C slope;
  I2V_HD C forward(C x) const { return x > C(0) ? x : slope * x; }
  // slope · dy at x == 0, as PyTorch's leaky_relu_backward (x > 0 ? dy : slope · dy).
  I2V_HD C backward(C x, C dy) const { return x > C(0) ? dy : slope * dy; }
};

template <typename C>
struct SigmoidMath {
  // 1 / (1 + e^-x), evaluated so that exp() never overflows: for x < 0 as e^x / (1 + e^x).
  I2V_HD C forward(C x) const {
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    const C e = std::exp(x);
    return e / (C(1) + e);
  }
  // From the output y = sigmoid(x): dy · y · (1 − y).
  I2V_HD C backward(C y, C dy) const { return dy * y * (C(1) - y); }
};

// y = factor · x (its gradient is the same function of dy).
template <typename C>
struct ScaleMath {
  C factor;
  I2V_HD C forward(C x) const { return factor * x; }
};

// The per-element bodies the CPU loop and the CUDA kernel both run (for_each_element), over
// T = float, double or bfloat16: each element read in compute_t<T>, the result stored as T.
template <typename T, typename Math>
struct ForwardElements {
  const T* x;
  T* y;
  Math math;
  I2V_HD void operator()(int64_t i) const { y[i] = T(math.forward(compute_t<T>(x[i]))); }
};
template <typename T, typename Math>
struct BackwardElements {
  const T* kept;
  const T* dy;
  T* dx;
  Math math;
  I2V_HD void operator()(int64_t i) const { dx[i] = T(math.backward(compute_t<T>(kept[i]), compute_t<T>(dy[i]))); }
};

}  // namespace i2v

// Over scalar_t = float (double on the cpu) or bfloat16, with C = compute_t<scalar_t>.
#define I2V_ACTIVATION_KERNELS(scalar_t, C)                                                            \
  /* y[i] = relu(x[i]); y may alias x. */                                                              \
  void relu_forward(const scalar_t* x, scalar_t* y, int64_t n);                                        \
  /* dx[i] = ReluMath::backward(x[i], dy[i]); dx may alias dy. */                                      \
  void relu_backward(const scalar_t* x, const scalar_t* dy, scalar_t* dx, int64_t n);                  \
  /* y[i] = leaky_relu(x[i], slope); y may alias x. */                                                 \
  void leaky_relu_forward(const scalar_t* x, scalar_t* y, int64_t n, C slope);                         \
  /* dx[i] = LeakyReluMath::backward(x[i], dy[i]); dx may alias dy. */                                 \
  void leaky_relu_backward(const scalar_t* x, const scalar_t* dy, scalar_t* dx, int64_t n, C slope);   \
  /* y[i] = sigmoid(x[i]); y may alias x. */                                                           \
  void sigmoid_forward(const scalar_t* x, scalar_t* y, int64_t n);                                     \
  /* dx[i] = SigmoidMath::backward(y[i], dy[i]) from the forward's output y; dx may alias dy. */       \
  void sigmoid_backward(const scalar_t* y, const scalar_t* dy, scalar_t* dx, int64_t n);               \
  /* y[i] = factor · x[i]; y may alias x. */                                                           \
  void scale_elements(const scalar_t* x, scalar_t* y, int64_t n, C factor);

namespace i2v::cpu {
I2V_ACTIVATION_KERNELS(float, float)
I2V_ACTIVATION_KERNELS(double, double)
I2V_ACTIVATION_KERNELS(bfloat16, float)
}  // namespace i2v::cpu
I2V_DECLARE_GPU(I2V_ACTIVATION_KERNELS(float, float) I2V_ACTIVATION_KERNELS(bfloat16, float))
#undef I2V_ACTIVATION_KERNELS

// The kernels' definitions over T (C = compute_t<T>), for the cpu (activation.cpp)
// and the GPU devices (activation.cu): each runs its body through the for_each_element of the
// namespace it is expanded in (kernels/elementwise_cpu.h, kernels/elementwise.cuh).
#define I2V_DEFINE_ACTIVATION_KERNELS(T, C)                                                      \
  void relu_forward(const T* x, T* y, int64_t n) {                                               \
    for_each_element(ForwardElements<T, ReluMath<C>>{x, y, {}}, n);                              \
  }                                                                                              \
  void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {                                \
    for_each_element(BackwardElements<T, ReluMath<C>>{x, dy, dx, {}}, n);                        \
  }                                                                                              \
  void leaky_relu_forward(const T* x, T* y, int64_t n, C slope) {                                \
    for_each_element(ForwardElements<T, LeakyReluMath<C>>{x, y, {slope}}, n);                    \
  }                                                                                              \
  void leaky_relu_backward(const T* x, const T* dy, T* dx, int64_t n, C slope) {                 \
    for_each_element(BackwardElements<T, LeakyReluMath<C>>{x, dy, dx, {slope}}, n);             \
  }                                                                                              \
  void sigmoid_forward(const T* x, T* y, int64_t n) {                                            \
    for_each_element(ForwardElements<T, SigmoidMath<C>>{x, y, {}}, n);                           \
  }                                                                                              \
  void sigmoid_backward(const T* y, const T* dy, T* dx, int64_t n) {                             \
    for_each_element(BackwardElements<T, SigmoidMath<C>>{y, dy, dx, {}}, n);                     \
  }                                                                                              \
  void scale_elements(const T* x, T* y, int64_t n, C factor) {                                   \
    for_each_element(ForwardElements<T, ScaleMath<C>>{x, y, {factor}}, n);                       \
  }
