// Deterministic reductions for the .cu kernels: warp and block sums, and the per-channel sums of
// kernels/reduce.h on the GPU.
//
// channel_sums runs in two passes. Pass 1: a grid of (channels × parts) blocks; block (c, p)
// sums `value` over chunk p of channel c, each thread over a strided slice of the chunk, then a
// warp-shuffle tree and a tree over the warps in shared memory. Pass 2 (when parts > 1): one warp
// per (sum, channel) adds its `parts` partial sums. Threads, parts and chunks depend only on
// the shape, never on the GPU, and no float atomics are used: a sum has the same bits on every
// run and every GPU. Memory-bound: one read of each element; the partials are a few KiB.
#pragma once

#include "kernels/allocator.h"
#include "kernels/gpu.cuh"
#include "kernels/reduce.h"

namespace i2v::I2V_GPU_NS {

constexpr unsigned kFullWarp = 0xffffffffu;

// The sum of v over the 32 lanes of a warp, by a butterfly: every lane gets the same bits.
__device__ __forceinline__ float warp_sum(float v) {
  for (int mask = 16; mask > 0; mask /= 2) v += __shfl_xor_sync(kFullWarp, v, mask);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int mask = 16; mask > 0; mask /= 2) v = fmaxf(v, __shfl_xor_sync(kFullWarp, v, mask));
  return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
// `scratch` is 32 floats of shared memory, free again when this returns.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = warp_sum(lane < warps ? scratch[lane] : 0.0f);
  __syncthreads();
  return v;
}

// How channel_sums splits one channel of `count` elements.
struct ReduceSplit {
  unsigned threads;  // per block: a power of two in [32, 256], no more than the elements need
  int64_t parts;     // blocks per channel
  int64_t chunk;     // elements per block
};

inline ReduceSplit reduce_split(int64_t count) {
  constexpr int64_t kElementsPerThread = 32;  // enough loads to pay for a block's tree
  constexpr int64_t kMaxParts = 1024;
  unsigned threads = 32;
  while (threads < 256 && threads < count) threads *= 2;
  const int64_t per_block = int64_t(threads) * kElementsPerThread;
  int64_t parts = (count + per_block - 1) / per_block;
  parts = parts < 1 ? 1 : (parts > kMaxParts ? kMaxParts : parts);
  return {threads, parts, (count + parts - 1) / parts};
}

template <int K, typename Value>
__global__ void channel_partial_sums_kernel(Value value, int64_t channels, int64_t inner, int64_t count,
                                            int64_t chunk, float scale, float* partials) {
  __shared__ float scratch[32];
  const int64_t c = blockIdx.x, part = blockIdx.y, parts = gridDim.y;
  const int64_t begin = part * chunk;
  const int64_t end = begin + chunk < count ? begin + chunk : count;
  float total[K] = {};
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t n = j / inner, s = j - n * inner;
    const Sums<float, K> v = value((n * channels + c) * inner + s, c);
    for (int k = 0; k < K; ++k) total[k] += v.v[k];
  }
  for (int k = 0; k < K; ++k) {
    const float sum = block_sum(total[k], scratch);
    if (threadIdx.x == 0) partials[(k * channels + c) * parts + part] = sum * scale;
  }
}

// out[row] = scale · Σ_p partials[row · parts + p], one warp per row, the lanes in a fixed order.
// (A template only so that every .cu including this header may instantiate it.)
template <typename T>
__global__ void sum_partials_kernel(const T* partials, int64_t rows, int64_t parts, T scale, T* out) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const unsigned lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together
  T sum = 0;
  for (int64_t p = lane; p < parts; p += 32) sum += partials[row * parts + p];
  sum = warp_sum(sum);
  if (lane == 0) out[row] = sum * scale;
}

// out[k · channels + c] = scale · Σ value(i, c).v[k] over channel c of [outer, channels, inner]
// (kernels/reduce.h). `out` is device memory of K · channels floats.
template <int K, typename Value>
void channel_sums(const Value& value, int64_t outer, int64_t channels, int64_t inner, float scale, float* out) {
  if (channels == 0) return;
  const int64_t count = outer * inner;
  const ReduceSplit split = reduce_split(count);
  const dim3 grid(unsigned(channels), unsigned(split.parts));
  if (split.parts == 1) {
    I2V_LAUNCH(channel_partial_sums_kernel<K, Value>, grid, split.threads, 0, 0, value, channels, inner, count,
               split.chunk, scale, out);
    return;
  }
  Scratch partials(Device::I2V_GPU_NS(), sizeof(float) * size_t(K * channels * split.parts));
  I2V_LAUNCH(channel_partial_sums_kernel<K, Value>, grid, split.threads, 0, 0, value, channels, inner, count,
             split.chunk, 1.0f, partials.as<float>());
  const int64_t rows = K * channels, warps_per_block = 8;
  I2V_LAUNCH(sum_partials_kernel<float>, unsigned((rows + warps_per_block - 1) / warps_per_block),
             unsigned(32 * warps_per_block), 0, 0, partials.as<float>(), rows, split.parts, scale, out);
}

}  // namespace i2v::I2V_GPU_NS
