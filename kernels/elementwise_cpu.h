// The CPU shell of an elementwise kernel: body(i) for every i in [0, n), on all cores when n is
// large enough to pay for the threads. `body` is the I2V_HD functor the CUDA kernel runs too
// (kernels/elementwise.cuh), so both devices compute each element with the same code.
#pragma once

#include <cstdint>

namespace i2v::cpu {

template <typename Body>
void for_each_element(const Body& body, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace i2v::cpu
