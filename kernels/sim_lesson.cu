// A block sum over shared memory, with and without its barriers: a lesson (see sim_lesson.h).
//
// 64 threads a block; each stores its value in partial[t], then the tree adds pairs level by level
// and the sum collects in the block's last slot:
//
//   stride 1:  partial[1] += partial[0], partial[3] += partial[2], ...   (32 adds)
//   stride 2:  partial[3] += partial[1], partial[7] += partial[5], ...   (16 adds)
//   ...
//   stride 32: partial[63] += partial[31]                                 (1 add)
//
// Each level reads slots that other threads wrote at the level before: a __syncthreads() between
// the levels makes every write of one level happen before any read of the next. Without them
// (with_barriers == false: WRONG ON PURPOSE) a thread may read its partner's slot before the
// partner has stored or finished it.
//
// What the emulator does with the wrong version: in the in-order schedule a thread without
// barriers runs from its start to its exit in one go, threads 0, 1, 2, ... one after another. The
// partner of thread t is always a lower thread (t - stride), which has finished, so the sum comes
// out right and the bug hides. In the shuffled schedule the threads run in a random order: a
// thread that runs before its partner reads the poison (-1) or a partial sum, and the sum is
// wrong. On a GPU the warps race, and the answer changes from run to run.
//
// Roofline: nothing to measure (63 adds a block); the lesson is about order, not speed.
#include "kernels/gpu.cuh"
#include "kernels/sim_lesson.h"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kThreads = kLessonBlockThreads;

// One level of the tree for thread t: a slot that ends a run of 2·stride slots takes in the slot
// `stride` below it. Returns 1 when that slot held a negative value: the poison of a slot no
// thread had written yet (the values summed are >= 0).
I2V_HD int tree_level(int* partial, int t, int stride) {
  if ((t + 1) % (2 * stride) != 0) return 0;
  const int partner = partial[t - stride];
  partial[t] += partner;
  return partner < 0 ? 1 : 0;
}

__global__ void lesson_block_sum_kernel(const int* in, int* sums, int* unwritten_reads, bool with_barriers) {
  __shared__ int partial[kThreads];
  const int t = threadIdx.x;
  partial[t] = in[blockIdx.x * kThreads + t];
  if (with_barriers) __syncthreads();
  int unwritten = 0;
  for (int stride = 1; stride < kThreads; stride *= 2) {
    unwritten += tree_level(partial, t, stride);
    if (with_barriers) __syncthreads();
  }
  unwritten_reads[blockIdx.x * kThreads + t] = unwritten;
  if (t == kThreads - 1) sums[blockIdx.x] = partial[t];
}

}  // namespace

void lesson_block_sum(const int* in, int* sums, int* unwritten_reads, int blocks, bool with_barriers) {
  if (blocks == 0) return;
  I2V_LAUNCH(lesson_block_sum_kernel, unsigned(blocks), kThreads, 0, 0, in, sums, unwritten_reads, with_barriers);
}

}  // namespace i2v::I2V_GPU_NS
