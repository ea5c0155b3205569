#include "index/knn.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/hamming_knn.h"
#include "nn/tensor.h"

namespace i2v {
namespace {

// Queries per kernel call in all-pairs (one progress step): on the CPU 32 chunks of 512 queries,
// about 1-2 s of work for 4,096-bit codes and N = 76k — few enough calls that the threads
// seldom wait for each other at their ends; on a GPU 1,024 tiles of 64 queries, enough to fill it.
int64_t block_queries(Device device) { return device.is_cpu() ? 16384 : 65536; }

KnnLists empty_lists(int64_t count, int k) {
  KnnLists lists;
  lists.count = count;
  lists.k = k;
  lists.rows.resize(size_t(count) * size_t(k));
  lists.distances.resize(size_t(count) * size_t(k));
  return lists;
}

// Codes on a GPU-like device: a copy.
Tensor codes_on(CodeView codes, Device device) {
  Tensor t = Tensor::empty({codes.count, codes.words}, DType::u64, device);
  copy_bytes(t.data<uint64_t>(), device, codes.data, Device::cpu(), size_t(codes.count) * size_t(codes.words) * 8);
  return t;
}

// Queries [first, first + count) of `args` (pointers on `device`) into `out` at the same rows.
void run_block(HammingKnnArgs args, int64_t first, int64_t count, Device device, KnnLists& out) {
  args.queries += first * args.words;
  args.query_count = count;
  if (args.self_offset >= 0) args.self_offset += first;
  if (device.is_cpu()) {  // the kernel writes straight into the lists
    args.neighbours = out.rows.data() + first * args.k;
    args.distances = out.distances.data() + first * args.k;
    cpu::hamming_knn(args);
    return;
  }
  Tensor rows = Tensor::empty({count, args.k}, DType::i32, device);
  Tensor distances = Tensor::empty({count, args.k}, DType::i32, device);
  args.neighbours = rows.data<int32_t>();
  args.distances = distances.data<int32_t>();
  I2V_DISPATCH(device, hamming_knn, args);
  const size_t bytes = size_t(count) * size_t(args.k) * sizeof(int32_t);
  copy_bytes(out.rows.data() + first * args.k, Device::cpu(), args.neighbours, device, bytes);
  copy_bytes(out.distances.data() + first * args.k, Device::cpu(), args.distances, device, bytes);
}

}  // namespace

KnnLists knn(CodeView database, CodeView queries, int k, Device device) {
  I2V_CHECK(queries.words == database.words, "knn: queries of {} bits against codes of {} bits", queries.bits(),
            database.bits());
  KnnLists out = empty_lists(queries.count, k);
  HammingKnnArgs args;
  args.database_count = database.count;
  args.words = database.words;
  args.k = k;
  check_hamming_knn(args);
  Tensor database_on_device, queries_on_device;
  if (device.is_cpu()) {
    args.database = database.data;
    args.queries = queries.data;
  } else {
    database_on_device = codes_on(database, device);
    queries_on_device = codes_on(queries, device);
    args.database = database_on_device.data<uint64_t>();
    args.queries = queries_on_device.data<uint64_t>();
  }
  if (queries.count > 0) run_block(args, 0, queries.count, device, out);
  return out;
}

KnnLists all_pairs_knn(CodeView database, int k, Device device, const ProgressCallback& progress) {
  KnnLists out = empty_lists(database.count, k);
  HammingKnnArgs args;
  args.database_count = database.count;
  args.words = database.words;
  args.k = k;
  args.self_offset = 0;
  check_hamming_knn(args);
  Tensor database_on_device;
  if (device.is_cpu()) {
    args.database = database.data;
  } else {
    database_on_device = codes_on(database, device);
    args.database = database_on_device.data<uint64_t>();
  }
  args.queries = args.database;  // query i is row i
  const int64_t block = block_queries(device);
  for (int64_t first = 0; first < database.count; first += block) {
    run_block(args, first, std::min(block, database.count - first), device, out);
    if (progress) progress(std::min(first + block, database.count), database.count);
  }
  return out;
}

}  // namespace i2v
