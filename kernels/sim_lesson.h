// Teaching kernels for the SIMT emulator's schedule (`i2v sim-trace`, docs/sim.md). They are
// lessons, not layers: nothing in the framework calls them, and one of them is wrong on purpose
// when asked to be.
#pragma once

#include "kernels/dispatch.h"

namespace i2v {

// The threads of a block of lesson_block_sum: one value each.
constexpr int kLessonBlockThreads = 64;

}  // namespace i2v

I2V_DECLARE_GPU(
    // sums[b] = in[64·b] + ... + in[64·b + 63] for each of `blocks` blocks of 64 threads, by a tree
    // reduction in shared memory. The values must be >= 0: a read of the shared-memory poison (-1
    // on `sim`) is then recognisable, and unwritten_reads[64·b + t] counts those that thread t of
    // block b made. With `with_barriers` false, the __syncthreads() between the tree's levels are
    // left out: the classic bug, kept on purpose for the lesson.
    void lesson_block_sum(const int* in, int* sums, int* unwritten_reads, int blocks, bool with_barriers);)
