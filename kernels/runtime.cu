// Device memory and synchronisation through the CUDA runtime API (see runtime.h).
#include "kernels/gpu.cuh"
#include "kernels/runtime.h"

namespace i2v::I2V_GPU_NS {

void* device_malloc(size_t bytes) {
  void* pointer = nullptr;
  if (bytes == 0) return pointer;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear it: running out of memory is not sticky
    I2V_THROW("out of device memory: cudaMalloc of {} bytes failed ({})", bytes,
              cudaGetErrorString(status));
  }
  return pointer;
}

void device_free(void* pointer) { CUDA_CHECK(cudaFree(pointer)); }

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void device_memset(void* pointer, int byte, size_t bytes) { CUDA_CHECK(cudaMemset(pointer, byte, bytes)); }

void device_synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

int device_count(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    *reason = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0) *reason = "no CUDA device found";
  return count;
}

std::string device_name() {
  int index = 0;
  CUDA_CHECK(cudaGetDevice(&index));
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return fmt::format("{} (compute capability {}.{}, {} SMs, {:.1f} GiB)", prop.name, prop.major,
                     prop.minor, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
}

void select_device(int index) { CUDA_CHECK(cudaSetDevice(index)); }

}  // namespace i2v::I2V_GPU_NS

#if !defined(I2V_SIM)
namespace i2v {

TracedLaunch::TracedLaunch(cudaStream_t stream) : stream_(stream), start_us_(trace::now_us()) {
  CUDA_CHECK(cudaEventCreate(&begin_));
  CUDA_CHECK(cudaEventCreate(&end_));
  CUDA_CHECK(cudaEventRecord(begin_, stream_));
}

void TracedLaunch::finish(const char* site_text, dim3 grid, dim3 block, size_t dynamic_shared_bytes) {
  CUDA_CHECK(cudaGetLastError());  // a launch that failed is reported as such, not timed
  CUDA_CHECK(cudaEventRecord(end_, stream_));
  CUDA_CHECK(cudaEventSynchronize(end_));
  float milliseconds = 0;
  CUDA_CHECK(cudaEventElapsedTime(&milliseconds, begin_, end_));
  const unsigned grid_size[3] = {grid.x, grid.y, grid.z}, block_size[3] = {block.x, block.y, block.z};
  trace::record_launch(site_text, DeviceType::cuda, grid_size, block_size, dynamic_shared_bytes, start_us_,
                       double(milliseconds) * 1000);
}

// Not checked: a destructor must not throw, and an event that fails to be destroyed leaks a few bytes.
TracedLaunch::~TracedLaunch() {
  if (begin_ != nullptr) cudaEventDestroy(begin_);
  if (end_ != nullptr) cudaEventDestroy(end_);
}

}  // namespace i2v
#endif
