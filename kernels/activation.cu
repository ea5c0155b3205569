// Elementwise activations on the GPU (see activation.h).
//
// Memory-bound: forward reads and writes 4 bytes per element, backward reads 8 and writes 4,
// for one comparison; at ~3 TB/s an H100 does ~250 G elements/s forward. Grid-stride loops.
#include "kernels/activation.h"
#include "kernels/gpu.cuh"
#include "kernels/launch_shape.h"

namespace i2v::I2V_GPU_NS {
namespace {

__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(const float* x, const float* dy, float* dx, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dx[i] = relu_grad(x[i], dy[i]);
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) {
  if (n == 0) return;
  I2V_LAUNCH(relu_forward_kernel, elementwise_blocks(n), kElementwiseThreads, 0, 0, x, y, n);
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  if (n == 0) return;
  I2V_LAUNCH(relu_backward_kernel, elementwise_blocks(n), kElementwiseThreads, 0, 0, x, dy, dx, n);
}

}  // namespace i2v::I2V_GPU_NS
