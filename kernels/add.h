// Elementwise sum of two tensors of the same shape (a residual connection's join).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

template <typename T>
struct AddElements {
  const T* a;
  const T* b;
  T* y;
  I2V_HD void operator()(int64_t i) const { y[i] = a[i] + b[i]; }
};

}  // namespace i2v

// y[i] = a[i] + b[i]; y may alias a or b.
I2V_DECLARE_FLOATING_KERNEL(void add_forward(const scalar_t* a, const scalar_t* b, scalar_t* y, int64_t n))
