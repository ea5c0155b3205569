// One 128×128 tile of C = A · B per block of 256 threads, on TF32 or BF16 tensor cores: the
// mainloop that every tensor-core product shares (kernels/gemm_tensor_core.cu,
// kernels/conv_tensor_core.cu). What differs
// between them is where the operands come from — a matrix, an image read through im2col — and
// where C goes, so those are the loaders and the epilogue of each kernel; the staging, the
// fragments and the mma are here.
//
// A is M × K and B is K × N in the product's terms (m: rows of C, n: its columns, k: the depth).
// Per block:
//   - a 128 × 128 tile of C, advancing kTileK = 32 along k per stage;
//   - 4 stages of shared memory (143,360 bytes: the kernels opt in past 48 KiB), filled by
//     cp.async while the tensor cores work on an earlier stage (cp.async.wait_group 2 keeps two
//     stages in flight). The kernels use 164-208 registers per thread (ptxas -v, sm_90; no
//     spills), so one block runs per SM: the deeper pipeline, not a second block, hides the
//     copies' latency. (Capping them at 128 for two blocks per SM spilled 150-400 bytes.)
//   - threads 0..127 copy A's stage, threads 128..255 B's (one warp of each on every scheduler);
//   - 8 warps in a 2 × 4 grid, each a 64 × 32 warp tile of 4 A fragments (rows) × 4 B fragments
//     (columns), accumulating 4 · 4 · 4 = 64 floats per thread: per 8 of depth 16 mma.m16n8k8
//     (tf32), or per 16 of depth 16 mma.m16n8k16 (bf16).
// Shared memory holds the fp32 operands as they are in global memory; they are rounded as they
// go from shared memory to the fragments — to TF32 (cvt.rna, as cuBLAS and cuDNN do) or to BF16
// (cvt.rn, as PyTorch's autocast casts) — and the sums are fp32 (kernels/precision.h). Staging
// fp32 keeps one set of loaders for both and the activations in fp32; BF16 staging would halve
// the copies, which matters only once the copies, not the mma, bound the kernel.
//
// Roofline of a stage (per block): 2 · 128 · 128 · 32 = 1.05 MFLOP of mma against 32 KiB copied
// from global memory (mostly L2 hits: neighbouring blocks read the same A rows or B columns) and
// 4 · 32 KiB of fragment reads from shared memory: 32 FLOP per global byte — an H100's TF32
// tensor cores (~495 TFLOP/s dense) need ~150 FLOP per HBM byte, so the kernels rely on L2 and
// on reuse inside the tile; in practice mma.sync on sm_90 peaks near 60-70% of the datasheet
// number and the im2col gathers cost issue slots, so 100-200 TFLOP/s is the expected range on
// large products.
#pragma once

#include <type_traits>

#include "kernels/gpu.cuh"
#include "kernels/precision.h"
#include "kernels/tensor_core.cuh"

namespace i2v::I2V_GPU_NS::tc {

constexpr int kTile = 128;         // rows of C (m) and columns (n) of a block tile
constexpr int kTileK = 32;         // depth of a stage
constexpr int kStages = 4;         // shared-memory stages of the cp.async pipeline
constexpr int kThreads = 256;      // 8 warps
constexpr int kLoaderThreads = 128;  // copy each operand's stage
constexpr int kWarpsN = 4;         // warps across n (2 across m)
constexpr int kWarpTileM = 64, kWarpTileN = 32;
constexpr int kFragsM = kWarpTileM / 16, kFragsN = kWarpTileN / 8;  // mma tiles of a warp tile

// How an operand's stage sits in shared memory: `inner` keeps k contiguous ([rows][kTileK + 4]),
// `outer` keeps the rows contiguous ([kTileK][rows + 8]). Loaders pick the one that matches their
// source, so copies from global memory stay contiguous on both sides. The pads put the eight rows
// (inner) or the four k (outer) that one fragment load reads on 32 different banks, and keep
// every row 16-byte aligned for cp.async.16 and ldmatrix.
enum class KLayout { inner, outer };

template <KLayout L>
struct OperandTile {
  static constexpr int kStride = L == KLayout::inner ? kTileK + 4 : kTile + 8;
  static constexpr int kFloats = L == KLayout::inner ? kTile * kStride : kTileK * kStride;
  static I2V_HD int index(int row, int k) { return L == KLayout::inner ? row * kStride + k : k * kStride + row; }
};

template <class ALoader, class BLoader>
constexpr size_t shared_bytes() {
  return size_t(kStages) * (OperandTile<ALoader::kLayout>::kFloats + OperandTile<BLoader::kLayout>::kFloats) *
         sizeof(float);
}

// The accumulators of one thread: its part of the 64 × 32 warp tile, as kFragsM × kFragsN
// mma C fragments (layout: kernels/tensor_core.cuh).
struct Accumulators {
  float c[kFragsM][kFragsN][4];
};

// ---- fragments -----------------------------------------------------------------------------

// TF32: the A fragment of rows [row0, row0 + 16) and depth [k0, k0 + 8) of a stage; ldmatrix.x4 reads
// the four 8 × 4 quarters of an inner tile at once (a0..a3: rows +0/+8, depth +0/+4).
template <KLayout L>
__device__ void load_a_fragment_tf32(const float* tile, int row0, int k0, int lane, uint32_t a[4]) {
  using Tile = OperandTile<L>;
  if constexpr (L == KLayout::inner) {
    const int row = row0 + lane % 8 + 8 * (lane / 8 % 2), k = k0 + 4 * (lane / 16);
    ldmatrix_x4(a, tile + Tile::index(row, k));
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const FragmentCoord p = mma_m16n8k8_tf32_a(lane, i);
      a[i] = float_bits(tile[Tile::index(row0 + p.row, k0 + p.col)]);
    }
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) a[i] = to_tf32(bits_float(a[i]));
}

// TF32: the B fragments of two mma tiles: columns [col0, col0 + 8) and [col0 + 8, col0 + 16), depth
// [k0, k0 + 8). In an inner tile B is stored [n][k], so ldmatrix.x4 reads b0, b1 of both.
template <KLayout L>
__device__ void load_b_fragments_tf32(const float* tile, int col0, int k0, int lane, uint32_t b[2][2]) {
  using Tile = OperandTile<L>;
  if constexpr (L == KLayout::inner) {
    uint32_t r[4];
    const int col = col0 + lane % 8 + 8 * (lane / 16), k = k0 + 4 * (lane / 8 % 2);
    ldmatrix_x4(r, tile + Tile::index(col, k));
    b[0][0] = r[0], b[0][1] = r[1], b[1][0] = r[2], b[1][1] = r[3];
  } else {
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const FragmentCoord p = mma_m16n8k8_tf32_b(lane, i);
        b[j][i] = float_bits(tile[Tile::index(col0 + 8 * j + p.col, k0 + p.row)]);
      }
  }
#pragma unroll
  for (int j = 0; j < 2; ++j)
#pragma unroll
    for (int i = 0; i < 2; ++i) b[j][i] = to_tf32(bits_float(b[j][i]));
}

// BF16: the two operand elements (row, k) and (row, k + 1) — rows of A, columns of B — that one
// register of an m16n8k16 fragment packs. In an inner tile they are neighbours: one 8-byte read.
template <KLayout L>
__device__ uint32_t load_bf16_pair(const float* tile, int row, int k) {
  using Tile = OperandTile<L>;
  if constexpr (L == KLayout::inner) {
    const float2 pair = *reinterpret_cast<const float2*>(tile + Tile::index(row, k));
    return pack_bf16x2(pair.x, pair.y);
  } else {
    return pack_bf16x2(tile[Tile::index(row, k)], tile[Tile::index(row, k + 1)]);
  }
}

// BF16: the A fragment of rows [row0, row0 + 16) and depth [k0, k0 + 16) of a stage.
template <KLayout L>
__device__ void load_a_fragment_bf16(const float* tile, int row0, int k0, int lane, uint32_t a[4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const FragmentCoord p = mma_m16n8k16_bf16_a(lane, 2 * i);  // the register's low half
    a[i] = load_bf16_pair<L>(tile, row0 + p.row, k0 + p.col);
  }
}

// BF16: the B fragment of columns [col0, col0 + 8) and depth [k0, k0 + 16) of a stage.
template <KLayout L>
__device__ void load_b_fragment_bf16(const float* tile, int col0, int k0, int lane, uint32_t b[2]) {
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const FragmentCoord p = mma_m16n8k16_bf16_b(lane, 2 * i);  // (k, n) of the register's low half
    b[i] = load_bf16_pair<L>(tile, col0 + p.col, k0 + p.row);
  }
}

// acc += the warp tile's product over one stage, in the tensor-core precision P (tf32 or bf16).
template <Precision P, KLayout LA, KLayout LB>
__device__ void warp_tile_mma(const float* a_tile, const float* b_tile, int warp_row0, int warp_col0, int lane,
                              Accumulators& acc) {
  static_assert(P == Precision::tf32 || P == Precision::bf16, "tensor cores compute in tf32 or bf16");
  if constexpr (P == Precision::tf32) {
#pragma unroll
    for (int k0 = 0; k0 < kTileK; k0 += 8) {
      uint32_t b[kFragsN][2];
#pragma unroll
      for (int j = 0; j < kFragsN; j += 2)
        load_b_fragments_tf32<LB>(b_tile, warp_col0 + 8 * j, k0, lane, reinterpret_cast<uint32_t(*)[2]>(b[j]));
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
        uint32_t a[4];
        load_a_fragment_tf32<LA>(a_tile, warp_row0 + 16 * i, k0, lane, a);
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) mma_m16n8k8_tf32(acc.c[i][j], a, b[j], acc.c[i][j]);
      }
    }
  } else {
#pragma unroll
    for (int k0 = 0; k0 < kTileK; k0 += 16) {
      uint32_t b[kFragsN][2];
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) load_b_fragment_bf16<LB>(b_tile, warp_col0 + 8 * j, k0, lane, b[j]);
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
        uint32_t a[4];
        load_a_fragment_bf16<LA>(a_tile, warp_row0 + 16 * i, k0, lane, a);
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) mma_m16n8k16_bf16(acc.c[i][j], a, b[j], acc.c[i][j]);
      }
    }
  }
}

// ---- the mainloop --------------------------------------------------------------------------

// acc = the product of the block tile at (row0, col0) of C over depth [k_begin, k_end), in the
// tensor-core precision P (tf32 or bf16). Loaders
// (MatrixLoader below is the simplest) are per-thread copies that provide
//   static constexpr KLayout kLayout;
//   void start(int64_t tile_row0, int64_t k_begin, int thread);  // once: the tile's first row (m
//       for A, n for B) and this thread's index among the operand's 128 loader threads
//   void load(float* tile, int64_t k0);  // this thread's copies of the stage at depth k0, zero
//       past the edges; called for k0 = k_begin, k_begin + kTileK, ... in order
// `thread` is the block's thread index (0..255).
template <Precision P, class ALoader, class BLoader>
__device__ void block_tile_mma(ALoader& a, BLoader& b, int64_t row0, int64_t col0, int64_t k_begin, int64_t k_end,
                               int thread, Accumulators& acc) {
  using ATile = OperandTile<ALoader::kLayout>;
  using BTile = OperandTile<BLoader::kLayout>;
  float* const shared = dynamic_shared<float>();
  auto a_stage = [&](int64_t t) { return shared + (t % kStages) * (ATile::kFloats + BTile::kFloats); };
  auto b_stage = [&](int64_t t) { return a_stage(t) + ATile::kFloats; };
  // Threads 0..127 copy A, 128..255 B; each commits a group per stage (empty past the end) so
  // that wait_group counts stages.
  const bool loads_a = thread < kLoaderThreads;
  if (loads_a) a.start(row0, k_begin, thread);
  else b.start(col0, k_begin, thread - kLoaderThreads);
  auto load_stage = [&](int64_t t) {
    const int64_t k0 = k_begin + t * kTileK;
    if (loads_a) a.load(a_stage(t), k0);
    else b.load(b_stage(t), k0);
  };
  const int64_t stages = (k_end - k_begin + kTileK - 1) / kTileK;
  const int warp = thread / 32, lane = thread % 32;
  const int warp_row0 = warp / kWarpsN * kWarpTileM, warp_col0 = warp % kWarpsN * kWarpTileN;

#pragma unroll
  for (int i = 0; i < kFragsM; ++i)
#pragma unroll
    for (int j = 0; j < kFragsN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc.c[i][j][e] = 0.0f;
  for (int64_t t = 0; t < kStages - 1; ++t) {
    if (t < stages) load_stage(t);
    cp_async_commit();
  }
  for (int64_t t = 0; t < stages; ++t) {
    cp_async_wait<kStages - 2>();  // this thread's copies of stage t have landed ...
    __syncthreads();               // ... and everyone's; and stage t − 1 is no longer read
    if (t + kStages - 1 < stages) load_stage(t + kStages - 1);  // into stage t − 1's buffer
    cp_async_commit();
    warp_tile_mma<P, ALoader::kLayout, BLoader::kLayout>(a_stage(t), b_stage(t), warp_row0, warp_col0, lane, acc);
  }
  cp_async_wait<0>();  // only empty groups are left; none may outlive the thread
}

// Calls store(row, col, value) for each of this thread's accumulators, with row and col relative
// to the block tile's first row and column (the caller checks the edges). Columns change
// slowest — in a C fragment, elements e and e + 2 share a column (kernels/tensor_core.cuh) — so
// a store can do per-column work once per column.
template <class Store>
I2V_HD void for_each_accumulator(const Accumulators& acc, int thread, Store store) {
  const int warp = thread / 32, lane = thread % 32;
  const int warp_row0 = warp / kWarpsN * kWarpTileM, warp_col0 = warp % kWarpsN * kWarpTileN;
  // Unrolled: the accumulators stay in registers only while every index is a constant.
#pragma unroll
  for (int j = 0; j < kFragsN; ++j)
#pragma unroll
    for (int column = 0; column < 2; ++column)
#pragma unroll
      for (int i = 0; i < kFragsM; ++i)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int e = column + 2 * half;
          const FragmentCoord p = mma_m16n8_c(lane, e);
          store(warp_row0 + 16 * i + p.row, warp_col0 + 8 * j + p.col, acc.c[i][j][e]);
        }
}

// ---- copies --------------------------------------------------------------------------------

// The source of a copy that may be past an edge: `bytes` of it are read (0: none, the
// destination is zero-filled), so a copy with none reads from `fallback`, an address known to be
// valid, rather than from outside the tensor.
I2V_HD const void* copy_source(const float* wanted, int bytes, const float* fallback) {
  return bytes > 0 ? static_cast<const void*>(wanted) : static_cast<const void*>(fallback);
}

// A stage of a row-major matrix operand: element (row, k) is data[row · ld + k] (KLayout::inner:
// k contiguous) or data[k · ld + row] (KLayout::outer: rows contiguous), for row < rows and
// k < depth, 0 elsewhere. With `vector` (ld a multiple of 4, data 16-byte aligned), four
// contiguous elements per cp.async.16; otherwise one per cp.async.4. Consecutive threads copy
// consecutive addresses.
template <KLayout L>
struct MatrixLoader {
  static constexpr KLayout kLayout = L;
  const float* data;
  int64_t ld, rows, depth;
  bool vector;
  int64_t row0 = 0;  // the block tile's first row
  int thread = 0;    // among the loader threads

  I2V_HD void start(int64_t tile_row0, int64_t, int loader_thread) {
    row0 = tile_row0;
    thread = loader_thread;
  }

  __device__ void load(float* tile, int64_t k0) const {
    using Tile = OperandTile<L>;
    // The contiguous extent of a stage (kTileK or kTile) and the element at (strided s, contiguous c).
    constexpr int kContiguous = L == KLayout::inner ? kTileK : kTile;
    auto element = [&](int s, int c, int& row, int64_t& k) {
      row = L == KLayout::inner ? s : c;
      k = k0 + (L == KLayout::inner ? c : s);
    };
    if (vector) {
      constexpr int kChunks = kTile * kTileK / 4;
      for (int chunk = thread; chunk < kChunks; chunk += kLoaderThreads) {
        int row;
        int64_t k;
        element(chunk / (kContiguous / 4), chunk % (kContiguous / 4) * 4, row, k);
        // Elements inside along the contiguous extent, of the four.
        const int64_t inside = L == KLayout::inner ? (row0 + row < rows ? depth - k : 0)
                                                   : (k < depth ? rows - (row0 + row) : 0);
        const int bytes = 4 * int(inside < 0 ? 0 : inside > 4 ? 4 : inside);
        const float* source = data + (L == KLayout::inner ? (row0 + row) * ld + k : k * ld + row0 + row);
        cp_async_16(tile + Tile::index(row, int(k - k0)), copy_source(source, bytes, data), bytes);
      }
    } else {
      for (int e = thread; e < kTile * kTileK; e += kLoaderThreads) {
        int row;
        int64_t k;
        element(e / kContiguous, e % kContiguous, row, k);
        const bool inside = row0 + row < rows && k < depth;
        const float* source = data + (L == KLayout::inner ? (row0 + row) * ld + k : k * ld + row0 + row);
        cp_async_4(tile + Tile::index(row, int(k - k0)), copy_source(source, inside ? 4 : 0, data), inside ? 4 : 0);
      }
    }
  }
};

// Whether a matrix's rows can be copied 16 bytes at a time.
inline bool vector_copies(const float* data, int64_t ld) {
  return ld % 4 == 0 && reinterpret_cast<uintptr_t>(data) % 16 == 0;
}

// Calls run(std::integral_constant<Precision, P>{}) with P = precision, which must be one the
// tensor cores compute in (tf32 or bf16): host code picks its kernels' instantiation with it.
template <class Run>
void with_tensor_core_precision(Precision precision, const char* caller, Run run) {
  I2V_CHECK(precision == Precision::tf32 || precision == Precision::bf16,
            "{}: tensor cores compute in tf32 or bf16, not {}", caller, precision_name(precision));
  if (precision == Precision::tf32) run(std::integral_constant<Precision, Precision::tf32>{});
  else run(std::integral_constant<Precision, Precision::bf16>{});
}

// Grants a kernel the dynamic shared memory of its stages (over the 48 KiB default); once per
// kernel and process. GPUs with less per block (RTX 30xx/40xx: 99 KiB) are told to use fp32.
template <typename Kernel>
void allow_shared_bytes(Kernel kernel, size_t bytes) {
  cudaDeviceProp properties;
  CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
  I2V_CHECK(properties.sharedMemPerBlockOptin >= bytes,
            "the tensor-core kernels need {} KiB of shared memory per block; this GPU ({}) offers {} KiB: "
            "use --precision fp32 (or \"precision\": \"fp32\" in a training config)",
            bytes / 1024, properties.name, properties.sharedMemPerBlockOptin / 1024);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

}  // namespace i2v::I2V_GPU_NS::tc
