// Kernels that exercise the CUDA semantics the SIMT emulator must reproduce (sim_test.cpp).
// Each runs on sim and, when present, on a real GPU.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

I2V_DECLARE_GPU(namespace test {
  // out[b] = sum of in[b*256 .. b*256+255]: a shared-memory tree reduction, 256 threads a block.
  void block_sum(const float* in, float* out, int blocks);
  // out[i] = in[i] - in[i-1] (out[0] = in[0]) within blocks of 256 through shared memory, with
  // the barrier between the store and the neighbour's load left out (a deliberate bug).
  void adjacent_difference_missing_barrier(const float* in, float* out, int blocks);
  // out[w] = sum of the 32 values of warp w, by __shfl_down_sync; ballots[w] = __ballot_sync of
  // (value > 0); xor_sums[w] = the same sum by a __shfl_xor_sync butterfly (every lane's copy
  // checked equal). 128 threads a block.
  void warp_sums(const float* in, float* out, unsigned* ballots, float* xor_sums, int warps);
  // Every thread of `blocks` x `threads` increments counters[0] (atomicAdd), raises counters[1]
  // to its global index (atomicMax), adds 1 to counters[2] through an atomicCAS loop, swaps its
  // index into counters[3] (atomicExch) and adds 1.0f to *sum (float atomicAdd).
  void atomics(int* counters, float* sum, int blocks, int threads);
  // out[linear global thread index] = that index, for a 3-D grid of 3-D blocks.
  void write_indices(int* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz);
  // A launch of `threads` threads in one block (to exceed the limit).
  void launch_block_of(int threads, int* out);
  // A launch asking for `bytes` of dynamic shared memory; with `opt_in`, after
  // cudaFuncSetAttribute. Each thread writes its index to shared memory and reads it back.
  void launch_with_dynamic_shared(size_t bytes, bool opt_in, int* out);
  // out[t] = the value of an unwritten static __shared__ float (sim: the 0xFF poison, a NaN).
  void read_unwritten_shared(float* out);
  // Threads >= 16 return before a __syncthreads the others reach.
  void barrier_after_early_return(int* out);
  // Lane 0 calls __shfl_sync with a full mask after lanes 16..31 exited.
  void shuffle_naming_exited_lanes(int* out);
  // Lanes 0..15 wait in a __syncwarp naming lanes 16..31, which wait at __syncthreads: a deadlock.
  void divergent_barrier_and_warp_sync(int* out);
})
