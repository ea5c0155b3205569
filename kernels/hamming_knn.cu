// Hamming k-NN on the GPU (see hamming_knn.h).
//
// hamming_topk_tile_64x64x16: a block of 256 threads owns 64 queries and one split of the
// database (a contiguous range of rows). It walks the split in tiles of 64 rows, GEMM-style:
// 16 words of the 64 queries and of the 64 rows are staged in shared memory, then each thread
// accumulates popcount(q XOR r) for its 4 × 4 (query, row) pairs, strided by 16 so that a warp
// reads 16 consecutive rows' words (no bank conflicts; the row stride of 65 words keeps the
// staging stores conflict-free too). A tile's 64 × 64 distances go to shared memory, where each
// warp screens 8 queries' candidates against their current k-th distance with two ballots; lane
// 0 inserts the few that pass into the query's sorted top-k list, also in shared memory. No
// distance matrix reaches global memory: a block writes its 64 lists of k (row, distance).
// merge_split_lists: when the database is split across blocks (few queries), one thread per
// query merges its per-split lists into the final top-k.
//
// Roofline, per (query, row) pair of 4,096-bit codes: 64 XORs of 64-bit words (128 LOP3),
// 64 __popcll (128 POPC on 32-bit halves) and 64 adds. POPC issues at 16 per SM per clock on
// sm_80..sm_90 against 64 for LOP3/IADD3, so the popcounts bound the kernel at 8 clocks per pair
// per SM: an H100 SXM (132 SMs, ~1.98 GHz) peaks at 132 · 1.98e9 / 8 ≈ 3.3e10 pairs/s, the
// 76,003² all-pairs graph in ~0.18 s. Bytes: each 16-word step stages (64 + 64) · 16 · 8 =
// 16 KiB for 64 · 64 pairs, 16 bytes per pair for 4,096-bit codes, 0.5 TB/s at the peak — from
// L2, which holds the whole 39 MB database of the paper's 76k set; far under HBM's 3.35 TB/s.
// The screening costs 2 ballots per query per tile (1/2048 of the popcounts); insertions are
// rare once the lists are full (about k·ln(N/k) per query over the whole database).
#include "kernels/gpu.cuh"

#include <algorithm>

#include "kernels/allocator.h"
#include "kernels/hamming_knn.h"

namespace i2v::I2V_GPU_NS {
namespace {

constexpr int kTileQueries = 64, kTileRows = 64, kTileWords = 16;
constexpr int kThreadsX = 16, kThreadsY = 16, kPerThread = 4;
constexpr int kThreads = kThreadsX * kThreadsY;
constexpr int kWarps = kThreads / 32;
constexpr int kTargetBlocks = 1024;  // enough to fill a large GPU several times over

// The split of the database a block walks, and where its lists go: [query][split][k].
struct SplitLayout {
  int splits = 1;
  int64_t rows_per_split = 0;  // a multiple of kTileRows
  int32_t* list_rows = nullptr;
  int32_t* list_distances = nullptr;
};

// Word w of code `index` of `codes` (count rows of `words`), or 0 outside.
I2V_HD uint64_t word_or_zero(const uint64_t* codes, int64_t count, int words, int64_t index, int w) {
  return (index < count && w < words) ? codes[index * words + w] : 0;
}

__global__ void hamming_topk_tile_64x64x16(HammingKnnArgs args, SplitLayout layout) {
  __shared__ uint64_t query_words[kTileWords][kTileQueries + 1];
  __shared__ uint64_t row_words[kTileWords][kTileRows + 1];
  __shared__ int32_t tile_distances[kTileQueries][kTileRows + 1];
  int32_t* list_distances = dynamic_shared<int32_t>();          // [kTileQueries][k]
  int32_t* list_rows = list_distances + kTileQueries * args.k;  // [kTileQueries][k]

  const int tx = threadIdx.x, ty = threadIdx.y;
  const int thread = ty * kThreadsX + tx, warp = thread / 32, lane = thread % 32;
  const int k = args.k, words = args.words;
  const int64_t query0 = int64_t(blockIdx.x) * kTileQueries;
  const int64_t split_begin = int64_t(blockIdx.y) * layout.rows_per_split;
  const int64_t split_end = split_begin + layout.rows_per_split < args.database_count
                                ? split_begin + layout.rows_per_split
                                : args.database_count;

  for (int e = thread; e < kTileQueries * k; e += kThreads) {
    list_distances[e] = kEmptyDistance;
    list_rows[e] = kEmptyRow;
  }

  for (int64_t row0 = split_begin; row0 < split_end; row0 += kTileRows) {
    int32_t acc[kPerThread][kPerThread] = {};
    for (int w0 = 0; w0 < words; w0 += kTileWords) {
      for (int e = thread; e < kTileQueries * kTileWords; e += kThreads) {
        const int kk = e % kTileWords, m = e / kTileWords;  // a warp reads 2 codes' 16 consecutive words
        query_words[kk][m] = word_or_zero(args.queries, args.query_count, words, query0 + m, w0 + kk);
        row_words[kk][m] = word_or_zero(args.database, split_end, words, row0 + m, w0 + kk);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTileWords; ++kk) {
        uint64_t q[kPerThread], r[kPerThread];
#pragma unroll
        for (int i = 0; i < kPerThread; ++i) q[i] = query_words[kk][ty + i * kThreadsY];
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) r[j] = row_words[kk][tx + j * kThreadsX];
#pragma unroll
        for (int i = 0; i < kPerThread; ++i)
#pragma unroll
          for (int j = 0; j < kPerThread; ++j) acc[i][j] += __popcll(q[i] ^ r[j]);
      }
      __syncthreads();
    }

    // Pairs outside the problem, and a query facing itself, can never be candidates.
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) {
        const int m = ty + i * kThreadsY, c = tx + j * kThreadsX;
        const int64_t query = query0 + m, row = row0 + c;
        const bool self = args.self_offset >= 0 && row == args.self_offset + query;
        const bool valid = query < args.query_count && row < split_end && !self;
        tile_distances[m][c] = valid ? acc[i][j] : kEmptyDistance;
      }
    }
    __syncthreads();

    // Warp `warp` screens queries warp*8 .. warp*8+7: lanes hold candidates lane and lane+32.
    for (int m = warp * (kTileQueries / kWarps); m < (warp + 1) * (kTileQueries / kWarps); ++m) {
      int32_t* distances_m = list_distances + m * k;
      int32_t* rows_m = list_rows + m * k;
      const int32_t threshold = distances_m[k - 1];
      const unsigned low = __ballot_sync(0xffffffffu, tile_distances[m][lane] < threshold);
      const unsigned high = __ballot_sync(0xffffffffu, tile_distances[m][lane + 32] < threshold);
      if (lane == 0) {
        for (int half = 0; half < 2; ++half) {
          for (unsigned bits = half ? high : low; bits != 0; bits &= bits - 1) {
            const int c = half * 32 + __ffs(int(bits)) - 1;
            insert_into_top_k(distances_m, rows_m, k, tile_distances[m][c], int32_t(row0 + c));
          }
        }
      }
      __syncwarp();
    }
    __syncthreads();
  }

  for (int e = thread; e < kTileQueries * k; e += kThreads) {
    const int64_t query = query0 + e / k;
    if (query >= args.query_count) continue;
    const int64_t out = (query * layout.splits + blockIdx.y) * k + e % k;
    layout.list_rows[out] = list_rows[e];
    layout.list_distances[out] = list_distances[e];
  }
}

// One thread per query: the k nearest of its `splits` sorted lists.
__global__ void merge_split_lists(HammingKnnArgs args, SplitLayout layout) {
  const int64_t query = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (query >= args.query_count) return;
  int32_t distances[kMaxGpuK], rows[kMaxGpuK];
  for (int i = 0; i < args.k; ++i) {
    distances[i] = kEmptyDistance;
    rows[i] = kEmptyRow;
  }
  for (int s = 0; s < layout.splits; ++s) {
    const int64_t base = (query * layout.splits + s) * args.k;
    for (int i = 0; i < args.k; ++i) {
      // Each list is sorted: once one entry does not go in, the rest of that list would not either.
      if (!insert_into_top_k(distances, rows, args.k, layout.list_distances[base + i], layout.list_rows[base + i]))
        break;
    }
  }
  for (int i = 0; i < args.k; ++i) {
    args.neighbours[query * args.k + i] = rows[i];
    args.distances[query * args.k + i] = distances[i];
  }
}

}  // namespace

void hamming_knn(const HammingKnnArgs& args) {
  check_hamming_knn(args);
  I2V_CHECK(args.k <= kMaxGpuK, "hamming_knn on {}: k = {}, at most {} on a GPU", Device::I2V_GPU_NS().name(), args.k,
            kMaxGpuK);
  if (args.query_count == 0) return;
  const int64_t query_tiles = (args.query_count + kTileQueries - 1) / kTileQueries;
  const int64_t row_tiles = (args.database_count + kTileRows - 1) / kTileRows;
  SplitLayout layout;
  layout.splits = int(std::min<int64_t>(row_tiles, std::max<int64_t>(1, kTargetBlocks / query_tiles)));
  layout.rows_per_split = (row_tiles + layout.splits - 1) / layout.splits * kTileRows;
  layout.splits = int((args.database_count + layout.rows_per_split - 1) / layout.rows_per_split);

  const size_t list_entries = size_t(args.query_count) * size_t(layout.splits) * size_t(args.k);
  const size_t shared_bytes = size_t(2 * kTileQueries * args.k) * sizeof(int32_t);
  CUDA_CHECK(cudaFuncSetAttribute(hamming_topk_tile_64x64x16, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  int(shared_bytes)));
  const dim3 grid(unsigned(query_tiles), unsigned(layout.splits)), block(kThreadsX, kThreadsY);
  if (layout.splits == 1) {  // the lists are the answer
    layout.list_rows = args.neighbours;
    layout.list_distances = args.distances;
    I2V_LAUNCH(hamming_topk_tile_64x64x16, grid, block, shared_bytes, 0, args, layout);
    return;
  }
  Scratch lists(Device::I2V_GPU_NS(), 2 * list_entries * sizeof(int32_t));
  layout.list_rows = lists.as<int32_t>();
  layout.list_distances = lists.as<int32_t>() + list_entries;
  I2V_LAUNCH(hamming_topk_tile_64x64x16, grid, block, shared_bytes, 0, args, layout);
  const unsigned merge_threads = 128;
  I2V_LAUNCH(merge_split_lists, unsigned((args.query_count + merge_threads - 1) / merge_threads), merge_threads, 0, 0,
             args, layout);
  CUDA_CHECK(cudaStreamSynchronize(0));  // the scratch lists are freed on return
}

}  // namespace i2v::I2V_GPU_NS
