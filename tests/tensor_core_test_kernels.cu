// Test kernels for the tensor-core instructions (see tensor_core_test_kernels.h).
#include "kernels/gpu.cuh"
#include "kernels/tensor_core.cuh"
#include "tests/tensor_core_test_kernels.h"

namespace i2v::I2V_GPU_NS::test {
namespace {

using ::i2v::test::FragmentBug;

constexpr int kWarpsPerBlock = 4;

int blocks_for(int tiles) { return (tiles + kWarpsPerBlock - 1) / kWarpsPerBlock; }

// The tile of the calling warp; -1 past the last (the whole warp returns together).
__device__ int warp_tile(int tiles) {
  const int tile = int(blockIdx.x) * kWarpsPerBlock + int(threadIdx.x) / 32;
  return tile < tiles ? tile : -1;
}

__device__ void load_c(const float* c, int lane, float frag[4]) {
  for (int i = 0; i < 4; ++i) {
    const FragmentCoord p = mma_m16n8_c(lane, i);
    frag[i] = c[p.row * 8 + p.col];
  }
}

__device__ void store_d(float* d, int lane, const float frag[4]) {
  for (int i = 0; i < 4; ++i) {
    const FragmentCoord p = mma_m16n8_c(lane, i);
    d[p.row * 8 + p.col] = frag[i];
  }
}

__global__ void mma_tf32_kernel(const float* a, const float* b, const float* c, float* d, int tiles,
                                bool round_to_tf32, FragmentBug bug) {
  const int tile = warp_tile(tiles);
  if (tile < 0) return;
  const int lane = threadIdx.x % 32;
  a += tile * 16 * 8, b += tile * 8 * 8, c += tile * 16 * 8, d += tile * 16 * 8;
  auto operand = [&](float x) { return round_to_tf32 ? to_tf32(x) : float_bits(x); };
  uint32_t a_frag[4], b_frag[2];
  float acc[4];
  for (int i = 0; i < 4; ++i) {
    const FragmentCoord p = mma_m16n8k8_tf32_a(lane, i);
    a_frag[i] = operand(a[p.row * 8 + p.col]);
  }
  for (int i = 0; i < 2; ++i) {
    const FragmentCoord p = mma_m16n8k8_tf32_b(lane, i);
    b_frag[i] = operand(bug == FragmentBug::b_transposed ? b[p.col * 8 + p.row] : b[p.row * 8 + p.col]);
  }
  if (bug == FragmentBug::a1_a2_swapped) {
    const uint32_t a1 = a_frag[1];
    a_frag[1] = a_frag[2];
    a_frag[2] = a1;
  }
  load_c(c, lane, acc);
  mma_m16n8k8_tf32(acc, a_frag, b_frag, acc);
  store_d(d, lane, acc);
}

constexpr int kBf16StrideA = 16 + 8;  // bf16 per shared row of A: 48 bytes, rows stay 16-byte aligned
constexpr int kBf16StrideB = 8 + 8;   // bf16 per shared row of B ([k][n]): 32 bytes

__global__ void mma_bf16_kernel(const float* a, const float* b, const float* c, float* d, int tiles,
                                bool via_ldmatrix) {
  __align__(16) __shared__ uint16_t a_tiles[kWarpsPerBlock][16][kBf16StrideA];
  __align__(16) __shared__ uint16_t b_tiles[kWarpsPerBlock][16][kBf16StrideB];
  const int tile = warp_tile(tiles);
  if (tile < 0) return;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  a += tile * 16 * 16, b += tile * 16 * 8, c += tile * 16 * 8, d += tile * 16 * 8;
  uint32_t a_frag[4], b_frag[2];
  float acc[4];
  if (via_ldmatrix) {
    for (int e = lane; e < 16 * 16; e += 32) a_tiles[warp][e / 16][e % 16] = to_bf16(a[e]);
    for (int e = lane; e < 16 * 8; e += 32) b_tiles[warp][e / 8][e % 8] = to_bf16(b[e]);
    __syncwarp();
    // A: lanes 0..15 give rows 0..15 at column 0 (matrices 0 and 1: a[0], a[1]), lanes 16..31 the
    // same rows at column 8 (a[2], a[3]). B: lanes 0..15 give rows k = 0..15; transposed, each
    // lane gets column n = g at k = 2t, 2t+1 (b[0]) and 2t+8, 2t+9 (b[1]).
    ldmatrix_x4(a_frag, &a_tiles[warp][lane % 16][(lane / 16) * 8]);
    ldmatrix_x2_trans(b_frag, &b_tiles[warp][lane % 16][0]);
  } else {
    for (int r = 0; r < 4; ++r) {
      const FragmentCoord lo = mma_m16n8k16_bf16_a(lane, 2 * r), hi = mma_m16n8k16_bf16_a(lane, 2 * r + 1);
      a_frag[r] = pack_bf16x2(a[lo.row * 16 + lo.col], a[hi.row * 16 + hi.col]);
    }
    for (int r = 0; r < 2; ++r) {
      const FragmentCoord lo = mma_m16n8k16_bf16_b(lane, 2 * r), hi = mma_m16n8k16_bf16_b(lane, 2 * r + 1);
      b_frag[r] = pack_bf16x2(b[lo.row * 8 + lo.col], b[hi.row * 8 + hi.col]);
    }
  }
  load_c(c, lane, acc);
  mma_m16n8k16_bf16(acc, a_frag, b_frag, acc);
  store_d(d, lane, acc);
}

constexpr int kLdmatrixStride = 8 + 8;  // 16-bit elements per shared row: 32 bytes

// Where global row r of a warp's 32 lands in shared memory: scattered, so that consecutive
// matrix rows are not consecutive in memory.
__device__ int scattered_slot(int row) { return (row * 13 + 5) % 32; }

__global__ void ldmatrix_kernel(const uint16_t* rows, uint32_t* out, int warps, int matrices, bool trans) {
  __align__(16) __shared__ uint16_t slots[kWarpsPerBlock][32][kLdmatrixStride];
  const int tile = warp_tile(warps);
  if (tile < 0) return;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  rows += tile * 32 * 8, out += tile * 32 * 4;
  uint16_t* mine = slots[warp][scattered_slot(lane)];
  for (int e = 0; e < 8; ++e) mine[e] = rows[lane * 8 + e];
  __syncwarp();
  uint32_t r[4];
  switch (matrices * 2 + int(trans)) {
    case 2: ldmatrix_x1(r, mine); break;
    case 3: ldmatrix_x1_trans(r, mine); break;
    case 4: ldmatrix_x2(r, mine); break;
    case 5: ldmatrix_x2_trans(r, mine); break;
    case 8: ldmatrix_x4(r, mine); break;
    default: ldmatrix_x4_trans(r, mine); break;
  }
  for (int m = 0; m < matrices; ++m) out[lane * 4 + m] = r[m];
}

constexpr int kSegmentThreads = 64, kSegmentsPerThread = 3;

__global__ void cp_async_segments_kernel(const uint8_t* src, const int* src_bytes, uint8_t* out, int size) {
  __align__(16) __shared__ uint8_t staged[kSegmentsPerThread * kSegmentThreads * 16];
  const int block_bytes = kSegmentsPerThread * kSegmentThreads * size;
  const int block_segments = kSegmentsPerThread * kSegmentThreads;
  src += blockIdx.x * block_bytes, out += blockIdx.x * block_bytes, src_bytes += blockIdx.x * block_segments;
  for (int j = 0; j < kSegmentsPerThread; ++j) {
    const int s = j * kSegmentThreads + threadIdx.x;
    if (size == 4) cp_async_4(staged + s * 4, src + s * 4, src_bytes[s]);
    if (size == 8) cp_async_8(staged + s * 8, src + s * 8, src_bytes[s]);
    if (size == 16) cp_async_16(staged + s * 16, src + s * 16, src_bytes[s]);
  }
  cp_async_wait_all();
  __syncthreads();  // the others' copies, complete in their threads, are now visible to all
  for (int i = threadIdx.x; i < block_bytes; i += kSegmentThreads) out[i] = staged[i];
}

constexpr int kPipelineThreads = 128, kPipelineTile = 4 * kPipelineThreads, kStages = 3;

__global__ void cp_async_pipeline_kernel(const float* in, float* out, int64_t n, int tiles) {
  __align__(16) __shared__ float stages[kStages][kPipelineTile];
  const int t = threadIdx.x;
  const int64_t first = int64_t(blockIdx.x) * tiles;
  // This thread's 16 bytes of tile i (of this block) into stage i % 3, zero-filled past n.
  auto issue = [&](int i) {
    const int64_t begin = (first + i) * kPipelineTile + 4 * t;
    const int64_t left = n - begin;
    const int bytes = left >= 4 ? 16 : (left > 0 ? int(left) * 4 : 0);
    cp_async_16(&stages[i % kStages][4 * t], in + (bytes > 0 ? begin : 0), bytes);
  };
  issue(0);
  cp_async_commit();
  if (1 < tiles) issue(1);
  cp_async_commit();
  for (int i = 0; i < tiles; ++i) {
    // Groups 0..i (tile i and older) complete, tile i+1 may still be in flight; then the barrier
    // makes every thread's part of tile i visible, and tells that stage (i+2) % 3 is read by none.
    cp_async_wait<1>();
    __syncthreads();
    const float* stage = stages[i % kStages];
    for (int j = 0; j < 4; ++j) {
      const int e = 4 * t + j;
      const int64_t index = (first + i) * kPipelineTile + e;
      if (index < n) out[index] = 2.0f * stage[e] + stage[(e + 1) % kPipelineTile];
    }
    if (i + 2 < tiles) issue(i + 2);
    cp_async_commit();  // possibly empty: keeps one group per tile, so wait<1> above stays right
  }
}

__global__ void cp_async_groups_kernel(const float* in, float* out) {
  __align__(16) __shared__ float copy[16];
  if (threadIdx.x != 0) return;
  for (int g = 0; g < 4; ++g) {
    cp_async_16(&copy[4 * g], &in[4 * g], 16);
    if (g < 3) cp_async_commit();
  }
  cp_async_wait<1>();
  for (int i = 0; i < 16; ++i) out[i] = copy[i];
  cp_async_wait<0>();
  for (int i = 0; i < 16; ++i) out[16 + i] = copy[i];
  cp_async_wait_all();
  for (int i = 0; i < 16; ++i) out[32 + i] = copy[i];
}

__global__ void convert_kernel(const float* x, uint32_t* tf32, uint32_t* bf16, uint32_t* packed, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  tf32[i] = to_tf32(x[i]);
  bf16[i] = to_bf16(x[i]);
  packed[i] = pack_bf16x2(x[i], x[(i + 1) % n]);
}

__global__ void read_before_wait_kernel(const float* in, float* early, float* late) {
  __align__(16) __shared__ float copy[32][4];
  const int t = threadIdx.x;
  cp_async_16(copy[t], &in[4 * t], 16);
  early[t] = copy[t][0];  // BUG on purpose: read before the wait that completes the copy
  cp_async_wait_all();
  late[t] = copy[t][0];
}

__device__ void mma_on_lane_values(float* out) {
  const int lane = threadIdx.x % 32;
  const uint32_t a[4] = {to_tf32(float(lane)), 0, 0, 0}, b[2] = {to_tf32(1.0f), 0};
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_m16n8k8_tf32(acc, a, b, acc);
  out[threadIdx.x] = acc[0];
}

__global__ void mma_in_half_a_warp_kernel(float* out) {
  // BUG on purpose: .sync.aligned needs every lane of the warp.
  if (threadIdx.x % 32 >= 16) return;
  mma_on_lane_values(out);
}

__global__ void mma_in_partial_warp_kernel(float* out) { mma_on_lane_values(out); }

__global__ void ldmatrix_misaligned_kernel(uint32_t* out) {
  __align__(16) __shared__ uint16_t rows[8][16];
  const int lane = threadIdx.x;
  for (int e = 0; e < 16; ++e) rows[lane % 8][e] = uint16_t(lane + e);
  __syncwarp();
  uint32_t r[1];
  ldmatrix_x1(r, &rows[lane % 8][4]);  // BUG on purpose: 8 bytes into a row
  out[lane] = r[0];
}

__global__ void ldmatrix_from_global_kernel(const uint16_t* rows, uint32_t* out) {
  uint32_t r[1];
  ldmatrix_x1(r, rows + (threadIdx.x % 8) * 8);  // BUG on purpose: global memory
  out[threadIdx.x] = r[0];
}

__global__ void cp_async_misaligned_kernel(const float* in, float* out) {
  __align__(16) __shared__ float copy[8];
  cp_async_16(&copy[1], in, 16);  // BUG on purpose: 4 bytes past a 16-byte boundary
  cp_async_wait_all();
  out[threadIdx.x] = copy[1];
}

__global__ void cp_async_never_waited_kernel(const float* in, float* out) {
  __align__(16) __shared__ float copy[4];
  cp_async_16(copy, in, 16);
  cp_async_commit();
  out[threadIdx.x] = 0.0f;  // BUG on purpose: returns without cp.async.wait_group
}

}  // namespace

void mma_tf32_tiles(const float* a, const float* b, const float* c, float* d, int tiles, bool round_to_tf32,
                    FragmentBug bug) {
  I2V_LAUNCH(mma_tf32_kernel, blocks_for(tiles), 32 * kWarpsPerBlock, 0, 0, a, b, c, d, tiles, round_to_tf32, bug);
}

void mma_bf16_tiles(const float* a, const float* b, const float* c, float* d, int tiles, bool via_ldmatrix) {
  I2V_LAUNCH(mma_bf16_kernel, blocks_for(tiles), 32 * kWarpsPerBlock, 0, 0, a, b, c, d, tiles, via_ldmatrix);
}

void ldmatrix_rows(const uint16_t* rows, uint32_t* out, int warps, int matrices, bool trans) {
  I2V_CHECK(matrices == 1 || matrices == 2 || matrices == 4, "ldmatrix loads 1, 2 or 4 matrices, not {}", matrices);
  I2V_LAUNCH(ldmatrix_kernel, blocks_for(warps), 32 * kWarpsPerBlock, 0, 0, rows, out, warps, matrices, trans);
}

void cp_async_segments(const uint8_t* src, const int* src_bytes, uint8_t* out, int size, int blocks) {
  I2V_CHECK(size == 4 || size == 8 || size == 16, "cp.async copies 4, 8 or 16 bytes, not {}", size);
  I2V_LAUNCH(cp_async_segments_kernel, blocks, kSegmentThreads, 0, 0, src, src_bytes, out, size);
}

void cp_async_pipeline(const float* in, float* out, int64_t n, int blocks, int tiles_per_block) {
  I2V_LAUNCH(cp_async_pipeline_kernel, blocks, kPipelineThreads, 0, 0, in, out, n, tiles_per_block);
}

void cp_async_groups(const float* in, float* out) { I2V_LAUNCH(cp_async_groups_kernel, 1, 32, 0, 0, in, out); }

void convert(const float* x, uint32_t* tf32, uint32_t* bf16, uint32_t* packed, int n) {
  I2V_LAUNCH(convert_kernel, (n + 127) / 128, 128, 0, 0, x, tf32, bf16, packed, n);
}

void cp_async_read_before_wait(const float* in, float* early, float* late) {
  I2V_LAUNCH(read_before_wait_kernel, 1, 32, 0, 0, in, early, late);
}

void mma_in_half_a_warp(float* out) { I2V_LAUNCH(mma_in_half_a_warp_kernel, 1, 32, 0, 0, out); }

void mma_in_partial_warp(float* out) { I2V_LAUNCH(mma_in_partial_warp_kernel, 1, 48, 0, 0, out); }

void ldmatrix_misaligned(uint32_t* out) { I2V_LAUNCH(ldmatrix_misaligned_kernel, 1, 32, 0, 0, out); }

void ldmatrix_from_global(const uint16_t* rows, uint32_t* out) {
  I2V_LAUNCH(ldmatrix_from_global_kernel, 1, 32, 0, 0, rows, out);
}

void cp_async_misaligned(const float* in, float* out) { I2V_LAUNCH(cp_async_misaligned_kernel, 1, 32, 0, 0, in, out); }

void cp_async_never_waited(const float* in, float* out) {
  I2V_LAUNCH(cp_async_never_waited_kernel, 1, 32, 0, 0, in, out);
}

}  // namespace i2v::I2V_GPU_NS::test
