// Test kernels for the SIMT emulator (see sim_test_kernels.h).
#include "kernels/gpu.cuh"
#include "tests/sim_test_kernels.h"

namespace i2v::I2V_GPU_NS::test {
namespace {

constexpr int kBlock = 256;

__global__ void block_sum_kernel(const float* in, float* out) {
  __shared__ float partial[kBlock];
  const int t = threadIdx.x;
  partial[t] = in[blockIdx.x * kBlock + t];
  __syncthreads();
  for (int stride = kBlock / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

__global__ void adjacent_difference_kernel(const float* in, float* out) {
  __shared__ float values[kBlock];
  const int t = threadIdx.x;
  const int i = blockIdx.x * kBlock + t;
  values[t] = in[i];
  // BUG on purpose: a __syncthreads() belongs here. In thread order the neighbour has always
  // stored its value already, so only a shuffled schedule exposes the race.
  out[i] = t > 0 ? values[t] - values[t - 1] : values[t];
}

__global__ void warp_sums_kernel(const float* in, float* out, unsigned* ballots, float* xor_sums) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int lane = threadIdx.x % 32;
  const int warp = i / 32;
  const float value = in[i];
  float sum = value;
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  const unsigned ballot = __ballot_sync(0xffffffffu, value > 0.0f);
  float butterfly = value;
  for (int mask = 16; mask > 0; mask /= 2) butterfly += __shfl_xor_sync(0xffffffffu, butterfly, mask);
  // Every lane must hold the same butterfly sum: compare with lane 0's copy.
  const float lane0 = __shfl_sync(0xffffffffu, butterfly, 0);
  const bool same = __all_sync(0xffffffffu, butterfly == lane0);
  if (lane == 0) {
    out[warp] = sum;
    ballots[warp] = ballot;
    xor_sums[warp] = same ? butterfly : -1.0e30f;
  }
}

__global__ void atomics_kernel(int* counters, float* sum) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&counters[0], 1);
  atomicMax(&counters[1], i);
  int seen = counters[2];
  int assumed;
  do {
    assumed = seen;
    seen = atomicCAS(&counters[2], assumed, assumed + 1);
  } while (seen != assumed);
  atomicExch(&counters[3], i);
  atomicAdd(sum, 1.0f);
}

__global__ void write_indices_kernel(int* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned index = block * (blockDim.x * blockDim.y * blockDim.z) + thread;
  out[index] = int(index);
}

__global__ void one_per_thread_kernel(int* out) { out[threadIdx.x] = int(threadIdx.x); }

__global__ void dynamic_shared_kernel(int* out) {
  int* shared = dynamic_shared<int>();
  shared[threadIdx.x] = int(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = shared[blockDim.x - 1 - threadIdx.x];
}

__global__ void read_unwritten_shared_kernel(float* out) {
  __shared__ float never_written[32];
  out[threadIdx.x] = never_written[threadIdx.x];
}

__global__ void barrier_after_early_return_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void shuffle_naming_exited_lanes_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, int(threadIdx.x), 0);
}

__global__ void divergent_barrier_and_warp_sync_kernel(int* out) {
  // Lanes 0..15 wait in a __syncwarp that names lanes 16..31, which wait at the barrier.
  if (threadIdx.x < 16) __syncwarp(0xffffffffu);
  __syncthreads();
  out[threadIdx.x] = 1;
}

}  // namespace

void block_sum(const float* in, float* out, int blocks) {
  I2V_LAUNCH(block_sum_kernel, blocks, kBlock, 0, 0, in, out);
}

void adjacent_difference_missing_barrier(const float* in, float* out, int blocks) {
  I2V_LAUNCH(adjacent_difference_kernel, blocks, kBlock, 0, 0, in, out);
}

void warp_sums(const float* in, float* out, unsigned* ballots, float* xor_sums, int warps) {
  I2V_LAUNCH(warp_sums_kernel, warps / 4, 128, 0, 0, in, out, ballots, xor_sums);
}

void atomics(int* counters, float* sum, int blocks, int threads) {
  I2V_LAUNCH(atomics_kernel, blocks, threads, 0, 0, counters, sum);
}

void write_indices(int* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
  I2V_LAUNCH(write_indices_kernel, dim3(gx, gy, gz), dim3(bx, by, bz), 0, 0, out);
}

void launch_block_of(int threads, int* out) { I2V_LAUNCH(one_per_thread_kernel, 1, threads, 0, 0, out); }

void launch_with_dynamic_shared(size_t bytes, bool opt_in, int* out) {
  if (opt_in)
    CUDA_CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  I2V_LAUNCH(dynamic_shared_kernel, 1, 64, bytes, 0, out);
}

void read_unwritten_shared(float* out) { I2V_LAUNCH(read_unwritten_shared_kernel, 1, 32, 0, 0, out); }

void barrier_after_early_return(int* out) { I2V_LAUNCH(barrier_after_early_return_kernel, 1, 64, 0, 0, out); }

void shuffle_naming_exited_lanes(int* out) { I2V_LAUNCH(shuffle_naming_exited_lanes_kernel, 1, 32, 0, 0, out); }

void divergent_barrier_and_warp_sync(int* out) {
  I2V_LAUNCH(divergent_barrier_and_warp_sync_kernel, 1, 64, 0, 0, out);
}

}  // namespace i2v::I2V_GPU_NS::test
