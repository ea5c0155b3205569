// I2V_HD marks a function that runs on the host and on the device: the per-element body of a
// kernel, written once with explicit indices and called by the CUDA kernel, the CPU kernel and
// tests alike (CUTLASS's rule: only a __global__ shell reads threadIdx/blockIdx).
#pragma once

#if defined(__CUDACC__)
#define I2V_HD __host__ __device__ __forceinline__
#else
#define I2V_HD inline
#endif

// a·b, a + b and a − b each rounded on its own, on every device. nvcc contracts a·b + c into one
// fused multiply-add (rounded once) and the host compiler does not (ISO C++ mode), so arithmetic
// whose result must be bit-identical on cpu, sim and cuda is written with these: __fmul_rn and
// friends are never contracted.
I2V_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
I2V_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
I2V_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
// The CPU's double path (the gradient checker's reference) never runs on a GPU.
inline double mul_rn(double a, double b) { return a * b; }
inline double add_rn(double a, double b) { return a + b; }
inline double sub_rn(double a, double b) { return a - b; }
