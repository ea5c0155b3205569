// All-pairs Hamming top-k (the semantic-morphing graph) on random codes: time, pairs/s, and
// the bound set by the CPU's vector ALU ports, measured in the same run.
//
//   knn_bench                                  N = 76,003 4,096-bit codes, top-5, cpu
//   knn_bench --device cuda                    the CUDA kernel (or sim, slowly)
//   knn_bench --path portable                  the portable popcount path instead of AVX-512
//   knn_bench --save-codes c.npy --save-knn k.npy   for bench/knn_faiss.py to check and compare
//   knn_bench --graph --store big.i2vcodes --n 1000000
//                                              the whole graph build from a memory-mapped
//                                              store (written first if missing): time and peak
//                                              memory (resident set) at each stage
//
// The bound: per (query, row) pair of B-bit codes the AVX-512 block runs B/512 vectors of
// (XOR, VPOPCNTQ, add) = 3·B/512 vector ALU instructions (24 for 4,096 bits); the loads come
// from separate load ports. The benchmark measures how many of these three instructions a
// thread retires per CPU-second (independent chains, registers only), on every thread at once,
// and divides by 3·B/512. It also times the block kernel alone (data in L1).
//
// Rates are given per wall second and per CPU-second: on a shared machine other processes take
// the CPUs part of the time, which wall time counts against us and CPU time does not. The
// share of the bound is computed both ways.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <fstream>
#include <random>
#include <string>

#include <CLI/CLI.hpp>
#include <omp.h>

#include "index/code_store.h"
#include "index/graph.h"
#include "index/knn.h"
#include "base/progress.h"
#include "base/error.h"
#include "kernels/hamming_knn.h"
#include "kernels/hamming_knn_cpu.h"
#include "nn/npy.h"

namespace i2v {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_resident_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// A rate measured on every thread at once for about a second: the sum over threads of
// work/second, by the wall clock and by each thread's CPU time.
struct Rate {
  double per_second = 0, per_cpu_second = 0;
};

// Runs `step()` (which does `work` units) on `threads` threads for about a second each.
template <typename Setup>
Rate rate_on_threads(int threads, Setup setup) {
  double wall = 0, cpu = 0;
#pragma omp parallel num_threads(threads) reduction(+ : wall, cpu)
  {
    auto [step, work] = setup(omp_get_thread_num());
    const double start = now_seconds(), start_cpu = thread_cpu_seconds();
    double done = 0;
    while (now_seconds() - start < 1.0) {
      step();
      done += work;
    }
    wall += done / (now_seconds() - start);
    cpu += done / (thread_cpu_seconds() - start_cpu);
  }
  return {wall, cpu};
}

#if defined(__x86_64__)
// 4,096 rounds of XOR + VPOPCNTQ + add on registers, 4 independent chains: 49,152 instructions.
__attribute__((target("avx512f,avx512vpopcntdq"))) void xor_popcount_add_rounds() {
  asm volatile("vpternlogq $0xff, %%zmm16, %%zmm16, %%zmm16\n\tvpxorq %%zmm17, %%zmm17, %%zmm17" ::: "xmm16", "xmm17");
  for (int i = 0; i < 4096; ++i) {
    asm volatile(
        "vpxorq %%zmm16, %%zmm17, %%zmm2\n\t vpxorq %%zmm16, %%zmm18, %%zmm3\n\t"
        "vpxorq %%zmm17, %%zmm19, %%zmm4\n\t vpxorq %%zmm17, %%zmm20, %%zmm5\n\t"
        "vpopcntq %%zmm2, %%zmm2\n\t vpopcntq %%zmm3, %%zmm3\n\t vpopcntq %%zmm4, %%zmm4\n\t vpopcntq %%zmm5, %%zmm5\n\t"
        "vpaddq %%zmm2, %%zmm6, %%zmm6\n\t vpaddq %%zmm3, %%zmm7, %%zmm7\n\t"
        "vpaddq %%zmm4, %%zmm8, %%zmm8\n\t vpaddq %%zmm5, %%zmm9, %%zmm9\n\t" ::
            : "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9");
  }
}
#endif

// Instructions per second of the XOR/VPOPCNTQ/add mix (0 without AVX-512 VPOPCNTDQ).
Rate vector_alu_rate(int threads) {
#if defined(__x86_64__)
  if (!cpu::avx512_popcount_supported()) return {};
  return rate_on_threads(threads, [](int) { return std::pair{std::function<void()>(xor_popcount_add_rounds), 4096.0 * 12}; });
#else
  (void)threads;
  return {};
#endif
}

// Pairs per second of the block kernel alone (32 queries x 6 rows, no k-NN bookkeeping, data
// in L1): what the whole k-NN could reach at best.
Rate block_kernel_rate(cpu::PopcountPath path, int words, int threads) {
  namespace h = cpu::hamming;
  const h::BlockKernel block = path == cpu::PopcountPath::avx512 ? h::block_avx512 : h::block_portable;
  struct Data {
    std::vector<uint64_t> group, rows, thresholds;
    const uint64_t* row_pointers[h::kBlockRows];
    uint32_t masks[h::kBlockRows], distances[h::kBlockRows][h::kGroupQueries];
  };
  return rate_on_threads(threads, [&](int thread) {
    auto data = std::make_shared<Data>();
    std::mt19937_64 rng{uint64_t(thread)};
    data->group.resize(size_t(words) * h::kGroupQueries);
    data->rows.resize(size_t(words) * h::kBlockRows);
    data->thresholds.assign(h::kGroupQueries, 0);
    for (uint64_t& w : data->group) w = rng();
    for (uint64_t& w : data->rows) w = rng();
    for (int j = 0; j < h::kBlockRows; ++j) data->row_pointers[j] = data->rows.data() + j * words;
    std::function<void()> step = [data, block, words] {
      for (int i = 0; i < 100; ++i)
        block(data->group.data(), data->row_pointers, words, data->thresholds.data(), data->masks, data->distances);
    };
    return std::pair{step, 100.0 * h::kGroupQueries * h::kBlockRows};
  });
}

std::vector<uint64_t> random_codes(int64_t n, int words, uint64_t seed) {
  std::vector<uint64_t> codes(size_t(n) * size_t(words));
  std::mt19937_64 rng(seed);
  for (uint64_t& w : codes) w = rng();
  return codes;
}

struct Options {
  int64_t n = 76003;
  int bits = kDefaultCodeBits;
  int k = 5;
  std::string device = "cpu";
  std::string path = "auto";
  uint64_t seed = 1;
  std::string save_codes, save_knn, store;
  bool graph = false;
};

void run_all_pairs(const Options& o) {
  const Device device = Device::parse(o.device);
  const int words = o.bits / 64;
  if (device.is_cpu() && o.path != "auto") setenv("I2V_POPCOUNT", o.path == "portable" ? "portable" : "avx512", 1);
  const cpu::PopcountPath path = cpu::default_popcount_path();
  const int threads = omp_get_max_threads();
  std::printf("all-pairs top-%d of N = %lld random %d-bit codes on %s\n", o.k, (long long)o.n, o.bits,
              device.is_cpu() ? fmt::format("cpu ({}, {} threads)", cpu::popcount_path_name(path), threads).c_str()
                              : device.name().c_str());
  const std::vector<uint64_t> codes = random_codes(o.n, words, o.seed);
  if (!o.save_codes.empty()) write_npy(o.save_codes, NpyType::u8, {o.n, o.bits / 8}, codes.data());

  const double ops_per_pair = 3.0 * o.bits / 512;
  const Rate alu_before = device.is_cpu() ? vector_alu_rate(threads) : Rate{};
  const Rate block = device.is_cpu() ? block_kernel_rate(path, words, threads) : Rate{};
  const double pairs = double(o.n) * double(o.n - 1);
  std::fflush(stdout);
  Progress meter("all-pairs", o.n, "queries", double(o.n - 1), "pairs");
  const double start = now_seconds(), start_cpu = process_cpu_seconds();
  const KnnLists knn = all_pairs_knn({codes.data(), o.n, words}, o.k, device, [&](int64_t done, int64_t) { meter.update(done); });
  const double seconds = now_seconds() - start, cpu_seconds = process_cpu_seconds() - start_cpu;
  meter.finish();
  const Rate alu_after = device.is_cpu() ? vector_alu_rate(threads) : Rate{};
  // Pairs per second had every thread had its CPU all the time.
  const double per_cpu = pairs / cpu_seconds * threads;
  std::printf("all-pairs: %.2f s, %.3e pairs/s", seconds, pairs / seconds);
  if (!device.is_cpu()) std::printf(" on %s\n", device.name().c_str());
  if (device.is_cpu()) {
    std::printf("; %.2f CPU-s on %d threads (%.0f%% of the wall time): %.3e pairs/s per CPU-second of each thread\n",
                cpu_seconds, threads, 100.0 * cpu_seconds / (seconds * threads), per_cpu);
    std::printf("block kernel alone (data in L1): %.3e pairs/s, %.3e per CPU-second of each thread\n", block.per_second,
                block.per_cpu_second);
  }
  if (alu_before.per_cpu_second > 0 && path == cpu::PopcountPath::avx512) {
    const double alu = std::max(alu_before.per_cpu_second, alu_after.per_cpu_second);
    const double bound = alu / ops_per_pair;
    std::printf("vector ALU: XOR+VPOPCNTQ+add retire %.3e/s per CPU-second of each of %d threads (%.3e before, %.3e "
                "after the run; by the wall clock %.3e and %.3e)\n",
                alu, threads, alu_before.per_cpu_second, alu_after.per_cpu_second, alu_before.per_second,
                alu_after.per_second);
    std::printf("bound: %g per pair -> %.3e pairs/s. Share of it: block kernel %.1f%%, all-pairs %.1f%% by CPU time, "
                "%.1f%% by the wall clock\n", ops_per_pair, bound, 100.0 * block.per_cpu_second / bound,
                100.0 * per_cpu / bound, 100.0 * pairs / seconds / bound);
  }
  if (!o.save_knn.empty()) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < o.n; ++i)
      for (int r = 0; r < o.k; ++r) {
        out.push_back(knn.rows_of(i)[r]);
        out.push_back(knn.distances_of(i)[r]);
      }
    write_npy(o.save_knn, NpyType::i64, {o.n, o.k, 2}, out.data());
  }
}

void run_graph(const Options& o) {
  const Device device = Device::parse(o.device);
  I2V_CHECK(!o.store.empty(), "--graph needs --store FILE (created with random codes when missing)");
  if (!std::filesystem::exists(o.store)) {
    std::printf("writing %lld random %d-bit codes to %s\n", (long long)o.n, o.bits, o.store.c_str());
    CodeStoreSource source;
    source.count = o.n;
    source.bits = o.bits;
    source.read_rows = [&](int64_t first, int64_t n, uint8_t* out) {
      std::mt19937_64 rng(o.seed + uint64_t(first));
      auto* words = reinterpret_cast<uint64_t*>(out);
      for (int64_t i = 0; i < n * (o.bits / 64); ++i) words[i] = rng();
    };
    write_code_store(o.store, source);
  }
  const double rss_start = resident_mib();
  const CodeStore store = CodeStore::open(o.store);
  std::printf("store %s: %lld codes of %d bits (%.0f MiB, memory-mapped); resident %.0f MiB after opening "
              "(the checksum pass maps every page; they are file pages the kernel may drop)\n",
              o.store.c_str(), (long long)store.size(), store.bits(),
              double(store.size()) * store.bits() / 8 / 1048576.0, resident_mib());
  std::fflush(stdout);
  Progress meter("graph", store.size(), "queries", double(store.size() - 1), "pairs");
  const double start = now_seconds();
  const KnnLists knn = all_pairs_knn(store.codes(), o.k, device, [&](int64_t done, int64_t) { meter.update(done); });
  meter.finish();
  const double knn_seconds = now_seconds() - start;
  const double rss_knn = resident_mib();
  const NeighbourGraph graph = graph_from_knn(knn, store.bits(), store.codes_checksum());
  const double total = now_seconds() - start;
  std::printf("top-%d lists %.1f s, graph assembly %.1f s: %lld nodes, %lld undirected edges\n", o.k, knn_seconds,
              total - knn_seconds, (long long)graph.node_count, (long long)graph.entries() / 2);
  std::printf("resident: %.0f MiB before opening, %.0f MiB after the lists, peak %.0f MiB\n", rss_start, rss_knn,
              peak_resident_mib());
}

}  // namespace
}  // namespace i2v

int main(int argc, char** argv) {
  i2v::Options o;
  CLI::App app{"All-pairs Hamming top-k on random codes: pairs/s against the vector-ALU bound"};
  app.add_option("--n", o.n, "Number of codes")->capture_default_str();
  app.add_option("--bits", o.bits, "Bits per code (a multiple of 64)")->capture_default_str();
  app.add_option("--k", o.k, "Neighbours per code")->capture_default_str();
  app.add_option("--device", o.device, "cpu, sim or cuda")->capture_default_str();
  app.add_option("--path", o.path, "CPU inner loop: auto, avx512 or portable")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the random codes")->capture_default_str();
  app.add_option("--save-codes", o.save_codes, "Write the codes as a packed uint8 .npy (for bench/knn_faiss.py)");
  app.add_option("--save-knn", o.save_knn, "Write the lists as an int64 .npy of N x k x (row, distance)");
  app.add_flag("--graph", o.graph, "Build the graph from a memory-mapped store and report peak memory");
  app.add_option("--store", o.store, "The store for --graph (written with random codes when missing)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.graph) i2v::run_graph(o);
    else i2v::run_all_pairs(o);
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "knn_bench: %s\n", e.message().c_str());
    return 1;
  }
  return 0;
}
