// The CUDA compatibility layer: with it, a `.cu` kernel source compiles with the host C++
// compiler and runs on the SIMT machine (simt.h). It provides what our kernels use of CUDA:
// qualifiers, the index variables, barriers, warp intrinsics, atomics, a few math intrinsics,
// vector types and the runtime API (memory, streams, events, errors).
//
// Differences a kernel author must know (docs/sim.md):
//   - `extern __shared__` is not supported: dynamic shared memory is reached through
//     i2v::dynamic_shared<T>() (kernels/gpu.cuh), which works under nvcc and here;
//   - `__shared__` variables must be declared inside functions (not at namespace scope);
//   - atomics are trivially atomic: the threads of a launch run on one OS thread.
// Everything is declared in i2v::simt namespaces and brought to the global namespace with
// using-directives, so no symbol clashes with the real CUDA runtime linked into the same program.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/sim/simt.h"

// ---- qualifiers --------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

// Each static __shared__ declaration gets a section of its own, named after its source file
// (I2V_SIM_UNIT, set by the build) and a counter; the linker script made by
// cmake/I2vKernels.cmake gathers a file's sections into one range that the SIMT machine
// poisons at every block start. One section per declaration avoids GCC's "section type
// conflict" between template (COMDAT) and plain functions.
// AddressSanitizer must not put red zones between these variables: the machine writes the whole
// range at once. GCC leaves variables with a section of their own alone; clang needs telling.
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define I2V_SIM_SHARED_NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef I2V_SIM_SHARED_NO_ASAN
#define I2V_SIM_SHARED_NO_ASAN
#endif
#define I2V_SIM_STR2(x) #x
#define I2V_SIM_STR(x) I2V_SIM_STR2(x)
#define I2V_SIM_SHARED_DECL2(unit, n) \
  __attribute__((section("i2v_smem." #unit "." #n))) I2V_SIM_SHARED_NO_ASAN static
#define I2V_SIM_SHARED_DECL(unit, n) I2V_SIM_SHARED_DECL2(unit, n)
#define __shared__ I2V_SIM_SHARED_DECL(I2V_SIM_UNIT, __COUNTER__)

#ifdef I2V_SIM_UNIT
#define I2V_SIM_CAT2(a, b) a##b
#define I2V_SIM_CAT(a, b) I2V_SIM_CAT2(a, b)
extern "C" char I2V_SIM_CAT(__start_i2v_smem_, I2V_SIM_UNIT)[] __attribute__((weak));
extern "C" char I2V_SIM_CAT(__stop_i2v_smem_, I2V_SIM_UNIT)[] __attribute__((weak));
#define I2V_SIM_SHARED_UNIT                                                   \
  (::i2v::simt::SharedUnit{I2V_SIM_STR(I2V_SIM_UNIT),                         \
                           I2V_SIM_CAT(__start_i2v_smem_, I2V_SIM_UNIT),      \
                           I2V_SIM_CAT(__stop_i2v_smem_, I2V_SIM_UNIT)})
#endif

// ---- index variables ---------------------------------------------------------------------
#define threadIdx (::i2v::simt::current().thread_idx)
#define blockIdx (::i2v::simt::current().block_idx)
#define blockDim (::i2v::simt::current().block_dim)
#define gridDim (::i2v::simt::current().grid_dim)

namespace i2v::simt::cuda_api {

using simt::dim3;
using simt::uint3;

constexpr int warpSize = 32;

// ---- vector types ------------------------------------------------------------------------
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) ulonglong2 { unsigned long long x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline ulonglong2 make_ulonglong2(unsigned long long x, unsigned long long y) { return {x, y}; }

// ---- barriers and warp intrinsics ---------------------------------------------------------
inline void __syncthreads() { simt::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  simt::warp_collective(WarpOp::sync, mask, 0, 0, 32);
}
inline void __threadfence() {}
inline void __threadfence_block() {}
inline unsigned __activemask() { return simt::active_lanes(); }

template <typename T>
uint64_t to_bits(T value) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type over 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}
template <typename T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
  return from_bits<T>(simt::warp_collective(WarpOp::shfl_idx, mask, to_bits(var), src_lane, width));
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  return from_bits<T>(simt::warp_collective(WarpOp::shfl_up, mask, to_bits(var), int(delta), width));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  return from_bits<T>(simt::warp_collective(WarpOp::shfl_down, mask, to_bits(var), int(delta), width));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
  return from_bits<T>(simt::warp_collective(WarpOp::shfl_xor, mask, to_bits(var), lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return unsigned(simt::warp_collective(WarpOp::ballot, mask, predicate != 0, 0, 32));
}
inline int __any_sync(unsigned mask, int predicate) {
  return int(simt::warp_collective(WarpOp::any, mask, predicate != 0, 0, 32));
}
inline int __all_sync(unsigned mask, int predicate) {
  return int(simt::warp_collective(WarpOp::all, mask, predicate != 0, 0, 32));
}

// ---- bit intrinsics ----------------------------------------------------------------------
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}

// ---- atomics: the threads of a launch share one OS thread and switch only at barriers and
// warp collectives, so a plain read-modify-write is atomic here. The operand is not deduced, so
// atomicAdd(&f, 1) converts 1 to float as under nvcc. ---------------------------------------
template <typename T>
struct operand { using type = T; };
template <typename T>
using operand_t = typename operand<T>::type;

template <typename T>
T atomicAdd(T* address, operand_t<T> value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
T atomicSub(T* address, operand_t<T> value) {
  T old = *address;
  *address = old - value;
  return old;
}
template <typename T>
T atomicMax(T* address, operand_t<T> value) {
  T old = *address;
  *address = old > value ? old : value;
  return old;
}
template <typename T>
T atomicMin(T* address, operand_t<T> value) {
  T old = *address;
  *address = old < value ? old : value;
  return old;
}
template <typename T>
T atomicExch(T* address, operand_t<T> value) {
  T old = *address;
  *address = value;
  return old;
}
template <typename T>
T atomicCAS(T* address, operand_t<T> compare, operand_t<T> value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}

// ---- math intrinsics ---------------------------------------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline int __float_as_int(float x) { return from_bits<int>(to_bits(x)); }
inline unsigned __float_as_uint(float x) { return from_bits<unsigned>(to_bits(x)); }
inline float __int_as_float(int x) { return from_bits<float>(to_bits(x)); }
inline float __uint_as_float(unsigned x) { return from_bits<float>(to_bits(x)); }
template <typename T>
T __ldg(const T* p) { return *p; }

// CUDA's global min/max overloads for device code.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// ---- runtime API (cuda_runtime_sim.cpp): memory is host memory, so AddressSanitizer sees a
// kernel's out-of-bounds access; work runs synchronously at the call. -----------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

struct SimStream;
struct SimEvent;
using cudaStream_t = SimStream*;
using cudaEvent_t = SimEvent*;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int multiProcessorCount;
  int major;
  int minor;
};

const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaMalloc(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* pointer, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value);
template <typename... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attribute, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attribute, value);
}

// Records a launch's error for cudaGetLastError, as the real runtime does.
void set_last_error(cudaError_t error);

// The launch behind I2V_LAUNCH: arguments are converted to the kernel's parameter types and
// copied, as a real launch does, then every CUDA thread calls the kernel with them.
template <typename... P, typename... A>
void launch_kernel(const LaunchSite& site, const SharedUnit& unit, void (*kernel)(P...), dim3 grid,
                   dim3 block, size_t dynamic_shared_bytes, cudaStream_t /*stream*/, A&&... args) {
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  const int error = simt::launch(
      site, unit, LaunchConfig{grid, block, dynamic_shared_bytes, reinterpret_cast<const void*>(kernel)},
      [&] { std::apply(kernel, params); });
  set_last_error(cudaError_t(error));
}

}  // namespace i2v::simt::cuda_api

using namespace i2v::simt::cuda_api;  // NOLINT: this header stands in for CUDA's global names
