// Included first by every `.cu` kernel source. The same source is compiled twice:
//   - by nvcc, for the `cuda` device: functions land in namespace i2v::cuda;
//   - by the host compiler with I2V_SIM defined (and the compatibility layer in
//     kernels/sim/cuda_compat.h), for the `sim` device: functions land in namespace i2v::sim.
// A source writes `namespace i2v::I2V_GPU_NS { ... }` and launches with
//   I2V_LAUNCH(kernel, grid, block, dynamic_shared_bytes, stream, args...);
// which is `kernel<<<grid, block, dynamic_shared_bytes, stream>>>(args...)` under nvcc and the
// SIMT machine otherwise; both check the launch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "base/error.h"
#include "kernels/host_device.h"
#include "kernels/trace.h"

#if defined(I2V_SIM)

#include "kernels/sim/cuda_compat.h"
#define I2V_GPU_NS sim

namespace i2v {
// The block's dynamic shared memory (under nvcc: an `extern __shared__` array).
template <typename T>
T* dynamic_shared() {
  return static_cast<T*>(simt::dynamic_shared_memory());
}
}  // namespace i2v

#define I2V_LAUNCH(...)                                                                        \
  do {                                                                                         \
    ::i2v::simt::cuda_api::launch_kernel(::i2v::simt::LaunchSite{__FILE__, __LINE__, #__VA_ARGS__}, \
                                         I2V_SIM_SHARED_UNIT, __VA_ARGS__);                    \
    CUDA_CHECK(cudaGetLastError());                                                            \
  } while (0)

#else

#include <cuda_runtime.h>
#define I2V_GPU_NS cuda

namespace i2v {
template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char i2v_dynamic_shared_bytes[];
  return reinterpret_cast<T*>(i2v_dynamic_shared_bytes);
}

// Times one launch for the kernel trace (kernels/trace.h) with CUDA events around it on its
// stream, waiting for it to end (kernels/runtime.cu).
class TracedLaunch {
 public:
  explicit TracedLaunch(cudaStream_t stream);
  void finish(const char* site_text, dim3 grid, dim3 block, size_t dynamic_shared_bytes);
  ~TracedLaunch();

 private:
  cudaStream_t stream_;
  cudaEvent_t begin_ = nullptr, end_ = nullptr;
  double start_us_;
};

template <typename... P, typename... A>
void launch_kernel(const char* site_text, void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                   cudaStream_t stream, A&&... args) {
  if (!trace::enabled()) {
    kernel<<<grid, block, dynamic_shared_bytes, stream>>>(std::forward<A>(args)...);
    return;
  }
  TracedLaunch traced(stream);
  kernel<<<grid, block, dynamic_shared_bytes, stream>>>(std::forward<A>(args)...);
  traced.finish(site_text, grid, block, dynamic_shared_bytes);
}
}  // namespace i2v

#define I2V_LAUNCH(...)                                  \
  do {                                                   \
    ::i2v::launch_kernel(#__VA_ARGS__, __VA_ARGS__);     \
    CUDA_CHECK(cudaGetLastError());                      \
  } while (0)

#endif

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    const cudaError_t i2v_status_ = (call);                                                \
    if (i2v_status_ != cudaSuccess)                                                        \
      ::i2v::throw_error(__FILE__, __LINE__, #call,                                        \
                         ::fmt::format("CUDA error {}: {}", cudaGetErrorName(i2v_status_), \
                                       cudaGetErrorString(i2v_status_)));                  \
  } while (0)
