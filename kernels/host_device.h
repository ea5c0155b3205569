// I2V_HD marks a function that runs on the host and on the device: the per-element body of a
// kernel, written once with explicit indices and called by the CUDA kernel, the CPU kernel and
// tests alike (CUTLASS's rule: only a __global__ shell reads threadIdx/blockIdx).
#pragma once

#if defined(__CUDACC__)
#define I2V_HD __host__ __device__ __forceinline__
#else
#define I2V_HD inline
#endif
