// Bias forward and gradient on the GPU (see bias.h).
//
// add_channel_bias: one thread per element (grid-stride), 8 bytes moved per element for one add:
//   memory-bound, ~420 G elements/s at 3.35 TB/s.
// channel_bias_grad: one block per channel; its 256 threads walk the channel's outer × inner
//   elements (consecutive threads, consecutive pixels: coalesced), then a shared-memory tree
//   adds their partial sums in a fixed order (deterministic, no atomics). 4 bytes read per
//   element: memory-bound, as long as channels ≥ the SM count (VGG: 64..512 channels).
#include "kernels/bias.h"
#include "kernels/gpu.cuh"
#include "kernels/launch_shape.h"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kReduceThreads = 256;

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t channels, int64_t inner, int64_t total) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    y[i] += bias[i / inner % channels];
}

__global__ void channel_bias_grad_kernel(const float* dy, int64_t outer, int64_t channels, int64_t inner,
                                         float* bias_grad) {
  __shared__ float partial[kReduceThreads];
  const int64_t c = blockIdx.x;
  float sum = 0.0f;
  if (inner >= kReduceThreads) {  // rows of pixels: no index division per element
    for (int64_t i = 0; i < outer; ++i)
      for (int64_t p = threadIdx.x; p < inner; p += kReduceThreads) sum += dy[(i * channels + c) * inner + p];
  } else {  // few pixels per row (Linear: one): the threads take whole elements of the outer × inner walk
    for (int64_t j = threadIdx.x; j < outer * inner; j += kReduceThreads)
      sum += dy[(j / inner * channels + c) * inner + j % inner];
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) bias_grad[c] += partial[0];
}

}  // namespace

void add_channel_bias(float* y, const float* bias, int64_t outer, int64_t channels, int64_t inner) {
  const int64_t total = outer * channels * inner;
  if (total == 0) return;
  I2V_LAUNCH(add_channel_bias_kernel, elementwise_blocks(total), kElementwiseThreads, 0, 0, y, bias, channels, inner,
             total);
}

void channel_bias_grad(const float* dy, int64_t outer, int64_t channels, int64_t inner, float* bias_grad) {
  if (channels == 0) return;
  I2V_LAUNCH(channel_bias_grad_kernel, unsigned(channels), kReduceThreads, 0, 0, dy, outer, channels, inner,
             bias_grad);
}

}  // namespace i2v::I2V_GPU_NS
