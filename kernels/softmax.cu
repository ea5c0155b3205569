// Softmax over channels on the GPU (see softmax.h): one warp per row (n, s); the lanes stride over
// the channels and combine with warp shuffles (warp_max, warp_sum), so a row's sum has the same
// bits on every run.
//
// Rows of [N, C] logits are contiguous: a warp reads 128 B per step, coalesced. In NCHW the
// channels of a row are H·W apart, so each lane's load is its own transaction; neighbouring warps
// (neighbouring s) share those cache lines through L1/L2. Per element: 3 reads (max, exp, scale
// pass) and 2 writes, one exp; memory-bound, ~20 bytes per element of traffic at worst.
#include <cmath>

#include "kernels/gpu.cuh"
#include "kernels/reduce.cuh"
#include "kernels/softmax.h"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr unsigned kWarpsPerBlock = 8;

// Row r of [outer, channels, inner]: its first element and the stride between its channels.
struct Row {
  int64_t first, stride;
};

__device__ __forceinline__ Row row_at(int64_t r, int64_t channels, int64_t inner) {
  const int64_t n = r / inner, s = r - n * inner;
  return {n * channels * inner + s, inner};
}

__global__ void softmax_forward_kernel(const float* x, int64_t rows, int64_t channels, int64_t inner, float* y,
                                       float* log_sum_exp) {
  const int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const unsigned lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together
  const Row row = row_at(r, channels, inner);
  float row_max = -INFINITY;
  for (int64_t c = lane; c < channels; c += 32) row_max = fmaxf(row_max, x[row.first + c * row.stride]);
  row_max = warp_max(row_max);
  float sum = 0.0f;
  for (int64_t c = lane; c < channels; c += 32) {
    const float e = expf(x[row.first + c * row.stride] - row_max);
    y[row.first + c * row.stride] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  for (int64_t c = lane; c < channels; c += 32) y[row.first + c * row.stride] /= sum;
  if (log_sum_exp != nullptr && lane == 0) log_sum_exp[r] = row_max + logf(sum);
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, int64_t rows, int64_t channels,
                                        int64_t inner, float* dx) {
  const int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const unsigned lane = threadIdx.x % 32;
  if (r >= rows) return;
  const Row row = row_at(r, channels, inner);
  float dot = 0.0f;
  for (int64_t c = lane; c < channels; c += 32) {
    const int64_t i = row.first + c * row.stride;
    dot += dy[i] * y[i];
  }
  dot = warp_sum(dot);
  for (int64_t c = lane; c < channels; c += 32) {
    const int64_t i = row.first + c * row.stride;
    dx[i] = y[i] * (dy[i] - dot);
  }
}

unsigned row_blocks(int64_t rows) { return unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

void softmax_forward(const float* x, int64_t outer, int64_t channels, int64_t inner, float* y, float* log_sum_exp) {
  const int64_t rows = outer * inner;
  if (rows == 0) return;
  I2V_LAUNCH(softmax_forward_kernel, row_blocks(rows), 32 * kWarpsPerBlock, 0, 0, x, rows, channels, inner, y,
             log_sum_exp);
}

void softmax_backward(const float* y, const float* dy, int64_t outer, int64_t channels, int64_t inner, float* dx) {
  const int64_t rows = outer * inner;
  if (rows == 0) return;
  I2V_LAUNCH(softmax_backward_kernel, row_blocks(rows), 32 * kWarpsPerBlock, 0, 0, y, dy, rows, channels, inner,
             dx);
}

}  // namespace i2v::I2V_GPU_NS
