// Kernels that measure what the SIMT emulator costs per thread, per barrier and per warp
// collective (sim_bench.cpp). On a GPU each of these takes microseconds for the whole grid.
#include "kernels/gpu.cuh"

namespace i2v::I2V_GPU_NS::bench {
namespace {

__global__ void empty_kernel() {}

__global__ void barriers_kernel(int* out, int rounds) {
  __shared__ int value[256];
  value[threadIdx.x] = int(threadIdx.x);
  for (int r = 0; r < rounds; ++r) {
    __syncthreads();
    value[threadIdx.x] += value[(threadIdx.x + 1) % blockDim.x];
  }
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = value[0];
}

__global__ void shuffles_kernel(int* out, int rounds) {
  int v = int(threadIdx.x);
  for (int r = 0; r < rounds; ++r) v += __shfl_xor_sync(0xffffffffu, v, 1 + r % 31);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

}  // namespace

void empty(int blocks, int threads) { I2V_LAUNCH(empty_kernel, blocks, threads, 0, 0); }
void barriers(int* out, int blocks, int rounds) { I2V_LAUNCH(barriers_kernel, blocks, 256, 0, 0, out, rounds); }
void shuffles(int* out, int blocks, int rounds) { I2V_LAUNCH(shuffles_kernel, blocks, 256, 0, 0, out, rounds); }

}  // namespace i2v::I2V_GPU_NS::bench
