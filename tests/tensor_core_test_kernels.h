// Kernels that run the tensor-core instructions of kernels/tensor_core.cuh on test data
// (tensor_core_test.cpp): on sim and, when present, on a real GPU. Matrices are row-major; one warp
// handles one tile, four warps a block.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

namespace i2v::test {
// Fragment indexing mistakes made on purpose, which the emulator must turn into wrong products.
enum class FragmentBug {
  none,
  a1_a2_swapped,  // A's registers 1 and 2 loaded in each other's place
  b_transposed,   // B's element (k, n) loaded from (n, k): lanes hold other lanes' elements
};
}  // namespace i2v::test

I2V_DECLARE_GPU(namespace test {
  // d[t] = a[t]·b[t] + c[t] for `tiles` tiles (a: 16×8, b: 8×8 as [k][n], c and d: 16×8) with
  // mma.m16n8k8 .tf32, one warp a tile. With `round_to_tf32`, the operands are converted with
  // to_tf32; without, their f32 bits are passed as they are.
  void mma_tf32_tiles(const float* a, const float* b, const float* c, float* d, int tiles, bool round_to_tf32,
                      ::i2v::test::FragmentBug bug);
  // The same with mma.m16n8k16 .bf16 (a: 16×16, b: 16×8 as [k][n]; operands rounded with to_bf16).
  // With `via_ldmatrix` the tiles are staged in shared memory as bf16 and the fragments loaded with
  // ldmatrix.x4 (A) and ldmatrix.x2.trans (B), else each lane reads its elements from global memory.
  void mma_bf16_tiles(const float* a, const float* b, const float* c, float* d, int tiles, bool via_ldmatrix);
  // For each warp w: the 32 rows of 8 16-bit elements at rows + w·32·8 are stored to shared memory
  // at scattered 16-byte aligned places; lane l gives the address of row l to
  // ldmatrix.x{matrices}{.trans}, and out[(w·32 + l)·4 + m] = its register m (m < matrices).
  void ldmatrix_rows(const uint16_t* rows, uint32_t* out, int warps, int matrices, bool trans);
  // Blocks of 64 threads each copy segments s = j·64 + thread (j < 3) of `size` bytes (4, 8 or 16)
  // of their block's part of src into shared memory with cp.async, src_bytes[segment] of them
  // from src and the rest zero-filled; after cp.async.wait_all and a barrier, the block writes its
  // shared buffer to out (3·64·size bytes a block).
  void cp_async_segments(const uint8_t* src, const int* src_bytes, uint8_t* out, int size, int blocks);
  // out[i] = 2·in[i] + in[i'] for i < n, where i' is i's right neighbour within its tile of 512
  // (wrapping) and in[] reads 0 past n: the tiles stream through three shared-memory stages with
  // cp.async (zero-filled past n), cp.async.wait_group 1 and a barrier a tile. Each of `blocks`
  // blocks of 128 threads handles tiles_per_block consecutive tiles.
  void cp_async_pipeline(const float* in, float* out, int64_t n, int blocks, int tiles_per_block);
  // Thread 0 copies in[0..15] to shared memory with cp.async 16: in[0..3], in[4..7] and in[8..11]
  // as three committed groups, in[12..15] left uncommitted. It writes the shared copy to
  // out[0..15] after cp.async.wait_group 1, to out[16..31] after wait_group 0, and to out[32..47]
  // after wait_all.
  void cp_async_groups(const float* in, float* out);
  // tf32[i] = to_tf32(x[i]), bf16[i] = to_bf16(x[i]), packed[i] = pack_bf16x2(x[i], x[(i + 1) % n]).
  void convert(const float* x, uint32_t* tf32, uint32_t* bf16, uint32_t* packed, int n);

  // Kernels that break the instructions' rules (sim only: on a GPU they are undefined behaviour).
  // 32 threads each copy in[4t .. 4t+3] to shared memory with cp.async and read the first of them
  // into early[t] before cp.async.wait_all, into late[t] after.
  void cp_async_read_before_wait(const float* in, float* early, float* late);
  // Only lanes 0..15 of a warp execute mma.m16n8k8; the others return.
  void mma_in_half_a_warp(float* out);
  // A block of 48 threads, all executing mma.m16n8k8: its second warp has 16 lanes.
  void mma_in_partial_warp(float* out);
  // ldmatrix.x1 with row addresses 8 bytes past a 16-byte boundary.
  void ldmatrix_misaligned(uint32_t* out);
  // ldmatrix.x1 with row addresses in global memory.
  void ldmatrix_from_global(const uint16_t* rows, uint32_t* out);
  // cp.async 16 to a shared address 4 bytes past a 16-byte boundary.
  void cp_async_misaligned(const float* in, float* out);
  // cp.async issued and committed, never waited for.
  void cp_async_never_waited(const float* in, float* out);
})
