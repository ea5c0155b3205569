// The CPU shell of an elementwise kernel: body(i) for every i in [0, n), on all cores when n is
// large enough to pay for the threads. `body` is the I2V_HD functor the CUDA kernel runs too
// (kernels/elementwise.cuh), so both devices compute each element with the same code.
//
// Each thread works on its own copy of the functor: GCC then keeps the functor's pointers in
// registers and vectorizes the loop (through the shared original, as `omp parallel for simd`
// would access it, it reloads them every element and vectorizes nothing).
#pragma once

#include <cstdint>

namespace i2v::cpu {

template <typename Body>
void for_each_element(const Body& body, int64_t n) {
#pragma omp parallel if (n > (1 << 16))
  {
    const Body local = body;
#pragma omp for
    for (int64_t i = 0; i < n; ++i) local(i);
  }
}

}  // namespace i2v::cpu
