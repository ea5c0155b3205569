// The CUDA shell of an elementwise kernel: body(i) for every i in [0, n), one grid-stride loop.
// `body` is an I2V_HD functor holding its pointers, the same one the CPU loop runs
// (kernels/elementwise_cpu.h); only this shell maps threads to indices.
#pragma once

#include "kernels/gpu.cuh"
#include "kernels/launch_shape.h"

namespace i2v::I2V_GPU_NS {

template <typename Body>
__global__ void elementwise_kernel(Body body, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) body(i);
}

template <typename Body>
void for_each_element(const Body& body, int64_t n) {
  if (n == 0) return;
  I2V_LAUNCH(elementwise_kernel<Body>, elementwise_blocks(n), kElementwiseThreads, 0, 0, body, n);
}

}  // namespace i2v::I2V_GPU_NS
