// The CUDA runtime API on the sim device: device memory is host memory (allocated at its exact
// size, so AddressSanitizer reports a kernel's out-of-bounds access), and every call completes
// before it returns, so streams and events only keep time.
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "kernels/sim/cuda_compat.h"

namespace i2v::simt::cuda_api {

struct SimStream {};
struct SimEvent {
  std::chrono::steady_clock::time_point time;
  bool recorded = false;
};

namespace {

thread_local cudaError_t last_error = cudaSuccess;

// Live allocations, so that freeing a pointer cudaMalloc did not return is reported.
std::mutex allocations_mutex;
std::unordered_set<void*> allocations;

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

}  // namespace

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
  }
  return "unrecognized error code";
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
  }
  return "cudaErrorUnknown";
}

void set_last_error(cudaError_t error) { record(error); }

cudaError_t cudaGetLastError() {
  cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return last_error; }

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return record(device == 0 ? cudaSuccess : cudaErrorInvalidValue); }

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return record(cudaSuccess);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return record(cudaErrorInvalidValue);
  const DeviceLimits& lim = limits();
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "i2v SIMT emulator (sm_90 limits, host memory)");
  prop->totalGlobalMem = size_t(1) << 40;
  prop->sharedMemPerBlock = lim.static_shared_limit;
  prop->sharedMemPerBlockOptin = lim.shared_optin_limit;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = int(lim.max_threads_per_block);
  prop->maxThreadsDim[0] = int(lim.max_block_dim_x);
  prop->maxThreadsDim[1] = int(lim.max_block_dim_y);
  prop->maxThreadsDim[2] = int(lim.max_block_dim_z);
  prop->maxGridSize[0] = int(lim.max_grid_dim_x);
  prop->maxGridSize[1] = int(lim.max_grid_dim_y);
  prop->maxGridSize[2] = int(lim.max_grid_dim_z);
  prop->multiProcessorCount = 1;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (posix_memalign(pointer, 256, bytes) != 0) {
    *pointer = nullptr;
    return record(cudaErrorMemoryAllocation);
  }
  std::lock_guard<std::mutex> lock(allocations_mutex);
  allocations.insert(*pointer);
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  if (pointer == nullptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(allocations_mutex);
    if (allocations.erase(pointer) == 0) return record(cudaErrorInvalidDevicePointer);
  }
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return record(cudaErrorInvalidMemcpyDirection);
  if (bytes > 0) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t /*stream*/) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* pointer, int value, size_t bytes) {
  if (bytes > 0) std::memset(pointer, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t /*stream*/) {
  return cudaMemset(pointer, value, bytes);
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = new SimStream;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t /*stream*/) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new SimEvent;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t /*stream*/) {
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  event->time = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return record(event != nullptr && event->recorded ? cudaSuccess : cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  if (start == nullptr || end == nullptr || !start->recorded || !end->recorded)
    return record(cudaErrorInvalidResourceHandle);
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value) {
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0)
    return record(cudaErrorInvalidValue);
  return record(cudaError_t(set_max_dynamic_shared(kernel, size_t(value))));
}

}  // namespace i2v::simt::cuda_api
