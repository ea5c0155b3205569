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
