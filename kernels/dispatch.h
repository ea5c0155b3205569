// Declaring and dispatching a kernel that exists for every device.
//
//   I2V_DECLARE_KERNELS(void relu_forward(const float* x, float* y, int64_t n);)
// declares the function in i2v::cpu (defined in a .cpp), i2v::sim and i2v::cuda (both defined by
// one .cu source, compiled twice), with identical signatures; and
//   I2V_DISPATCH(device, relu_forward, x, y, n);
// calls the one for `device`.
#pragma once

#include "i2v_config.h"
#include "kernels/device.h"

#define I2V_DECLARE_GPU(...)   \
  namespace i2v::sim {         \
  __VA_ARGS__                  \
  }                            \
  namespace i2v::cuda {        \
  __VA_ARGS__                  \
  }

#define I2V_DECLARE_KERNELS(...) \
  namespace i2v::cpu {           \
  __VA_ARGS__                    \
  }                              \
  I2V_DECLARE_GPU(__VA_ARGS__)

namespace i2v {
[[noreturn]] void throw_cuda_not_built(const char* function);
}

#if I2V_HAVE_CUDA
#define I2V_CUDA_CALL(fn, ...) ::i2v::cuda::fn(__VA_ARGS__)
#else
#define I2V_CUDA_CALL(fn, ...) ::i2v::throw_cuda_not_built(#fn)
#endif

#define I2V_DISPATCH(device, fn, ...)                                       \
  do {                                                                      \
    switch ((device).type) {                                                \
      case ::i2v::DeviceType::cpu: ::i2v::cpu::fn(__VA_ARGS__); break;      \
      case ::i2v::DeviceType::sim: ::i2v::sim::fn(__VA_ARGS__); break;      \
      case ::i2v::DeviceType::cuda: I2V_CUDA_CALL(fn, __VA_ARGS__); break;  \
    }                                                                       \
  } while (0)
