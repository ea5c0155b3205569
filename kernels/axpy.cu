// y += alpha · x on the GPU. Memory-bound: 12 bytes moved per 2 FLOPs.
#include "kernels/axpy.h"
#include "kernels/gpu.cuh"
#include "kernels/launch_shape.h"

namespace i2v::I2V_GPU_NS {
namespace {

__global__ void axpy_kernel(int64_t n, float alpha, const float* x, float* y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += alpha * x[i];
}

}  // namespace

void axpy(int64_t n, float alpha, const float* x, float* y) {
  if (n == 0) return;
  I2V_LAUNCH(axpy_kernel, elementwise_blocks(n), kElementwiseThreads, 0, 0, n, alpha, x, y);
}

}  // namespace i2v::I2V_GPU_NS
