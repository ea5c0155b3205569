// One SGD step with momentum and weight decay, PyTorch's semantics:
//   d = s · g + weight_decay · w          (s scales the gradient: gradient clipping; 1 otherwise)
//   v = d                      on the first step
//   v = momentum · v + d       afterwards
//   w = w - lr · v
// (with momentum 0, v is not stored: w -= lr · d).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

// The update of one element; returns the new w and writes the new v. Every product and sum is
// rounded on its own (host_device.h), so the update is bit-identical on every device.
template <typename T>
I2V_HD T sgd_update(T w, T g, T* v, T lr, T momentum, T weight_decay, T grad_scale, bool first_step) {
  const T d = add_rn(mul_rn(grad_scale, g), mul_rn(weight_decay, w));
  if (momentum != T(0)) {
    *v = first_step ? d : add_rn(mul_rn(momentum, *v), d);
    return sub_rn(w, mul_rn(lr, *v));
  }
  return sub_rn(w, mul_rn(lr, d));
}

}  // namespace i2v

// velocity may be null when momentum is 0.
I2V_DECLARE_FLOATING_KERNEL(void sgd_step(int64_t n, scalar_t* weight, const scalar_t* grad, scalar_t* velocity,
                                          scalar_t lr, scalar_t momentum, scalar_t weight_decay, scalar_t grad_scale,
                                          bool first_step))
