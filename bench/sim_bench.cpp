// What the SIMT emulator costs: nanoseconds per CUDA thread started, per thread passing a
// __syncthreads(), and per thread in a warp shuffle. These bound how large the sim-device tests
// can be (a GPU does each in well under a nanosecond per thread).
// The peer: a round trip between two ucontext contexts (swapcontext), the other way to build
// one fiber per CUDA thread; each thread passing a barrier costs one such round trip.
//
//   ./build/bench/sim_bench
#include <ucontext.h>

#include <benchmark/benchmark.h>

#include "kernels/sim/simt.h"
#include "nn/tensor.h"

namespace i2v::sim::bench {
void empty(int blocks, int threads);
void barriers(int* out, int blocks, int rounds);
void shuffles(int* out, int blocks, int rounds);
}  // namespace i2v::sim::bench

namespace {

using namespace i2v;

void BM_ThreadStart(benchmark::State& state) {
  const int blocks = 64, threads = int(state.range(0));
  for (auto _ : state) sim::bench::empty(blocks, threads);
  state.counters["ns_per_thread"] = benchmark::Counter(double(blocks) * threads * double(state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ThreadStart)->Arg(32)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

void BM_Barrier(benchmark::State& state) {
  const int blocks = 16, rounds = 64;
  Tensor out = Tensor::zeros({blocks}, DType::i32, Device::sim());
  for (auto _ : state) sim::bench::barriers(out.data<int32_t>(), blocks, rounds);
  state.counters["ns_per_thread_barrier"] = benchmark::Counter(
      double(blocks) * 256 * rounds * double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Barrier)->Unit(benchmark::kMillisecond);

void BM_Shuffle(benchmark::State& state) {
  const int blocks = 16, rounds = 64;
  Tensor out = Tensor::zeros({blocks}, DType::i32, Device::sim());
  for (auto _ : state) sim::bench::shuffles(out.data<int32_t>(), blocks, rounds);
  state.counters["ns_per_thread_shuffle"] = benchmark::Counter(
      double(blocks) * 256 * rounds * double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Shuffle)->Unit(benchmark::kMillisecond);

ucontext_t g_main_context, g_fiber_context;

void ucontext_ping() {
  for (;;) swapcontext(&g_fiber_context, &g_main_context);
}

void BM_UcontextRoundTrip(benchmark::State& state) {
  static char stack[64 * 1024];
  getcontext(&g_fiber_context);
  g_fiber_context.uc_stack.ss_sp = stack;
  g_fiber_context.uc_stack.ss_size = sizeof stack;
  g_fiber_context.uc_link = nullptr;
  makecontext(&g_fiber_context, ucontext_ping, 0);
  for (auto _ : state) swapcontext(&g_main_context, &g_fiber_context);
  state.counters["ns_per_round_trip"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_UcontextRoundTrip);

}  // namespace

BENCHMARK_MAIN();
