// The SGD update on the GPU (see sgd.h). Memory-bound: per element it reads w, g, v and writes
// w, v — 20 bytes for ~5 FLOPs; a VGG-11's 130 M parameters take ~1 ms on an H100.
#include "kernels/gpu.cuh"
#include "kernels/launch_shape.h"
#include "kernels/sgd.h"

namespace i2v::I2V_GPU_NS {
namespace {

__global__ void sgd_step_kernel(int64_t n, float* weight, const float* grad, float* velocity, float lr,
                                float momentum, float weight_decay, float grad_scale, bool first_step) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float unused = 0.0f;
    weight[i] = sgd_update(weight[i], grad[i], velocity ? &velocity[i] : &unused, lr, momentum, weight_decay,
                           grad_scale, first_step);
  }
}

}  // namespace

void sgd_step(int64_t n, float* weight, const float* grad, float* velocity, float lr, float momentum,
              float weight_decay, float grad_scale, bool first_step) {
  if (n == 0) return;
  I2V_LAUNCH(sgd_step_kernel, elementwise_blocks(n), kElementwiseThreads, 0, 0, n, weight, grad, velocity, lr,
             momentum, weight_decay, grad_scale, first_step);
}

}  // namespace i2v::I2V_GPU_NS
