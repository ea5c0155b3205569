// Declaring and dispatching a kernel that exists for every device.
//
//   I2V_DECLARE_KERNELS(void fill_elements(void* data, int64_t count, ...);)
// declares the function in i2v::cpu (defined in a .cpp), i2v::sim and i2v::cuda (both defined by
// one .cu source, compiled twice), with identical signatures; and
//   I2V_DISPATCH(device, fill_elements, data, count, ...);
// calls the one for `device`.
//
// Layer kernels compute in float on every device and, on the CPU only, also in double: the
// double-precision CPU path is the reference the gradient checker differentiates numerically.
//   I2V_DECLARE_FLOATING_KERNEL(void axpy(int64_t n, scalar_t alpha, const scalar_t* x, scalar_t* y));
// declares a template over scalar_t in i2v::cpu (instantiated for float and double) and the
// float version in i2v::sim and i2v::cuda; and
//   I2V_DISPATCH_FLOATING(device, dtype, axpy, n, scalar_t(alpha), x.data<scalar_t>(), y.data<scalar_t>());
// calls it with scalar_t = double on the CPU for f64 tensors and scalar_t = float otherwise
// (PyTorch's AT_DISPATCH_FLOATING_TYPES idiom). Kernels that also take bf16 elements (computing
// in f32: kernels/activation.h) declare an overload per element type and are called through
// I2V_DISPATCH_FLOATING_OR_BF16, which adds scalar_t = bfloat16 for bf16 tensors.
#pragma once

#include "i2v_config.h"
#include "kernels/bfloat16.h"
#include "kernels/device.h"
#include "kernels/trace.h"

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

#define I2V_DECLARE_FLOATING_KERNEL(...) \
  namespace i2v::cpu {                     \
  template <typename scalar_t>             \
  __VA_ARGS__;                             \
  }                                        \
  namespace i2v::sim {                     \
  using scalar_t = float;                  \
  __VA_ARGS__;                             \
  }                                        \
  namespace i2v::cuda {                    \
  using scalar_t = float;                  \
  __VA_ARGS__;                             \
  }

namespace i2v {
[[noreturn]] void throw_cuda_not_built(const char* function);
[[noreturn]] void throw_double_off_cpu(const char* function, Device device);
[[noreturn]] void throw_gpu_only(const char* function);
}

#if I2V_HAVE_CUDA
#define I2V_CUDA_CALL(fn, ...) ::i2v::cuda::fn(__VA_ARGS__)
#else
#define I2V_CUDA_CALL(fn, ...) ::i2v::throw_cuda_not_built(#fn)
#endif

// Every dispatch is a span of the kernel trace (kernels/trace.h): on the cpu the kernel's run, on
// a GPU device the op around its launches.
#define I2V_TRACED(kind, device, call, fn, ...)                                                        \
  do {                                                                                                \
    const ::i2v::trace::Span i2v_trace_span_(::i2v::trace::Kind::kind, #fn, (device));                \
    call(fn, __VA_ARGS__);                                                                            \
  } while (0)
#define I2V_CPU_CALL(fn, ...) ::i2v::cpu::fn(__VA_ARGS__)
#define I2V_SIM_CALL(fn, ...) ::i2v::sim::fn(__VA_ARGS__)

#define I2V_DISPATCH(device, fn, ...)                                                                 \
  do {                                                                                                \
    switch ((device).type) {                                                                          \
      case ::i2v::DeviceType::cpu: I2V_TRACED(launch, device, I2V_CPU_CALL, fn, __VA_ARGS__); break; \
      case ::i2v::DeviceType::sim: I2V_TRACED(op, device, I2V_SIM_CALL, fn, __VA_ARGS__); break;     \
      case ::i2v::DeviceType::cuda: I2V_TRACED(op, device, I2V_CUDA_CALL, fn, __VA_ARGS__); break;   \
    }                                                                                                 \
  } while (0)

#define I2V_DISPATCH_FLOATING_OR_BF16(device, dtype, fn, ...) \
  do {                                                         \
    if ((dtype) == ::i2v::DType::bf16) {                       \
      using scalar_t = ::i2v::bfloat16;                        \
      I2V_DISPATCH(device, fn, __VA_ARGS__);                   \
    } else {                                                   \
      I2V_DISPATCH_FLOATING(device, dtype, fn, __VA_ARGS__);   \
    }                                                          \
  } while (0)

// A kernel that exists only on the cpu (a path the caller chose for the cpu), traced as the
// dispatched ones are.
#define I2V_CALL_CPU(fn, ...) I2V_TRACED(launch, ::i2v::Device::cpu(), I2V_CPU_CALL, fn, __VA_ARGS__)

// For kernels that exist only on the GPU devices (I2V_DECLARE_GPU): the caller has chosen a GPU
// path; on the cpu it is a programming error, reported as such.
#define I2V_DISPATCH_GPU(device, fn, ...)                                                           \
  do {                                                                                              \
    switch ((device).type) {                                                                        \
      case ::i2v::DeviceType::cpu: ::i2v::throw_gpu_only(#fn); break;                               \
      case ::i2v::DeviceType::sim: I2V_TRACED(op, device, I2V_SIM_CALL, fn, __VA_ARGS__); break;   \
      case ::i2v::DeviceType::cuda: I2V_TRACED(op, device, I2V_CUDA_CALL, fn, __VA_ARGS__); break; \
    }                                                                                               \
  } while (0)

#define I2V_DISPATCH_FLOATING(device, dtype, fn, ...)                                  \
  do {                                                                                 \
    if ((dtype) == ::i2v::DType::f64) {                                                \
      if (!(device).is_cpu()) ::i2v::throw_double_off_cpu(#fn, (device));              \
      using scalar_t = double;                                                         \
      I2V_TRACED(launch, device, I2V_CPU_CALL, fn, __VA_ARGS__);                       \
    } else {                                                                           \
      using scalar_t = float;                                                          \
      I2V_DISPATCH(device, fn, __VA_ARGS__);                                           \
    }                                                                                  \
  } while (0)
