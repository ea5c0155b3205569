// The sum of squares of a tensor's elements: squared gradient norms, which also reveal a NaN or
// an infinity anywhere in the gradients. A deterministic reduction (kernels/reduce.h).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace i2v {

template <typename T>
struct SquaredValues {
  const T* x;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t /*channel*/) const { return {{x[i] * x[i]}}; }
};

}  // namespace i2v

// *out = Σ x[i]²; `out` is one element of device memory.
I2V_DECLARE_FLOATING_KERNEL(void sum_of_squares(const scalar_t* x, int64_t n, scalar_t* out))
