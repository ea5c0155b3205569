// Forward + backward (training mode) of the elementwise, pooling, BatchNorm and loss layers on
// the CPU at the i2v-tag network's sizes (batch 8, 224×224): the activations and pools of its
// first block (64×224×224), the global average pool of its 1,539-channel 7×7 head, and the
// 1,539-tag BCE. Every case reports elements/s of its input and GB/s of the memory a
// forward + backward must touch at least (inputs read, outputs and gradients written), the
// measure that matters for these memory-bound layers; bench/layers_vs_torch.py runs this binary
// and the same ops in PyTorch in one run, for the ratios in bench/RESULTS.md.
//
//   ./build/bench/layers_bench [--benchmark_filter=...]
#include <memory>
#include <random>

#include <benchmark/benchmark.h>

#include "kernels/activation.h"

#include "nn/layers/avg_pool2d.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/layers/dropout.h"
#include "nn/layers/global_avg_pool.h"
#include "nn/layers/max_pool2d.h"
#include "nn/layers/relu.h"
#include "nn/layers/sigmoid.h"
#include "nn/layers/softmax.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"

namespace {

using namespace i2v;

const Shape kBlock1 = {8, 64, 224, 224};  // the first conv block's activations at batch 8
const Shape kHead = {8, 1539, 7, 7};      // the conv6 head before global average pooling
const Shape kTags = {8, 1539};            // logits of the 1,539 tags

Tensor uniform(const Shape& shape, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector(v, shape);
}

// Reports the input's elements/s and GB/s of `bytes_per_step` (the least memory one forward +
// backward touches).
void report(benchmark::State& state, int64_t elements, double bytes_per_step) {
  state.counters["elements/s"] = benchmark::Counter(double(elements), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes_per_step / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Forward in train mode then backward of `layer` on one input of `shape` in `dtype` (f32, or
// bf16 as activations pass between layers at bf16 precision). `bytes_per_element`: bytes the
// pair must read or write per input element.
void run_layer(benchmark::State& state, Layer& layer, const Shape& shape, double bytes_per_element,
               DType dtype = DType::f32) {
  const Tensor x = uniform(shape, -2.0f, 2.0f, 1).cast(dtype);
  const Tensor dy = uniform(layer.output_shape({shape}), -1.0f, 1.0f, 2).cast(dtype);
  for (auto _ : state) {
    const Tensor y = layer.forward({x}, Mode::train);
    const std::vector<Tensor> dx = layer.backward(dy, {true});
    benchmark::DoNotOptimize(dx[0].raw_data());
  }
  report(state, shape_numel(shape), bytes_per_element * double(shape_numel(shape)));
}

// ReLU: forward reads x, writes y; backward reads x and dy, writes dx.
void BM_ReLU(benchmark::State& state) {
  ReLU layer;
  run_layer(state, layer, kBlock1, 5 * 4);
}
BENCHMARK(BM_ReLU)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// The same in bf16 (kernels/activation.h: 2-byte elements, computed in f32).
void BM_ReLU_bf16(benchmark::State& state) {
  ReLU layer;
  run_layer(state, layer, kBlock1, 5 * 2, DType::bf16);
}
BENCHMARK(BM_ReLU_bf16)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// What a fresh output costs: the ReLU forward kernel alone into a new tensor each step (arg 1:
// its pages are touched for the first time, a page fault each 4 KiB) or into one reused (arg 0).
void BM_ReLUForwardKernel(benchmark::State& state) {
  const bool fresh = state.range(0) == 1;
  const Tensor x = uniform(kBlock1, -2.0f, 2.0f, 1);
  Tensor reused = Tensor::empty(kBlock1);
  for (auto _ : state) {
    Tensor y = fresh ? Tensor::empty(kBlock1) : reused;
    I2V_DISPATCH(Device::cpu(), relu_forward, x.data<float>(), y.data<float>(), x.numel());
    benchmark::DoNotOptimize(y.raw_data());
  }
  report(state, x.numel(), 2.0 * 4 * double(x.numel()));
}
BENCHMARK(BM_ReLUForwardKernel)
    ->ArgName("fresh_output")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

// Sigmoid: forward reads x, writes y; backward reads y and dy, writes dx.
void BM_Sigmoid(benchmark::State& state) {
  Sigmoid layer;
  run_layer(state, layer, kBlock1, 5 * 4);
}
BENCHMARK(BM_Sigmoid)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// Dropout: forward reads x, writes y; backward reads dy, writes dx (the mask is recomputed).
void BM_Dropout(benchmark::State& state) {
  Dropout layer(0.5, 1);
  run_layer(state, layer, kBlock1, 4 * 4);
}
BENCHMARK(BM_Dropout)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// 2×2 stride 2, per input element: forward reads x (4 B), writes y (1 B) and the argmax (a byte
// an output: 0.25 B); backward reads dy and the argmax, writes dx.
void BM_MaxPool2x2(benchmark::State& state) {
  MaxPool2d layer(2);
  run_layer(state, layer, kBlock1, 2 * (4 + 1 + 0.25));
}
BENCHMARK(BM_MaxPool2x2)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// The same in bf16 (kernels/pool.h): 2 bytes for each 4 above.
void BM_MaxPool2x2_bf16(benchmark::State& state) {
  MaxPool2d layer(2);
  run_layer(state, layer, kBlock1, 2 * (2 + 0.5 + 0.25), DType::bf16);
}
BENCHMARK(BM_MaxPool2x2_bf16)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// 2×2 stride 2: forward reads x, writes y (a quarter); backward reads dy, writes dx.
void BM_AvgPool2x2(benchmark::State& state) {
  AvgPool2d layer(2);
  run_layer(state, layer, kBlock1, (1 + 0.25 + 0.25 + 1) * 4);
}
BENCHMARK(BM_AvgPool2x2)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void BM_GlobalAvgPool(benchmark::State& state) {
  GlobalAvgPool layer;
  run_layer(state, layer, kHead, 2 * 4);
}
BENCHMARK(BM_GlobalAvgPool)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// Training BatchNorm: forward reads x twice (mean, variance) and once more to write y; backward
// reads x and dy twice (sums, then dx) and writes dx.
void BM_BatchNorm2d(benchmark::State& state) {
  BatchNorm2d layer(kBlock1[1]);
  run_layer(state, layer, kBlock1, (3 + 1 + 4 + 1) * 4);
}
BENCHMARK(BM_BatchNorm2d)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void BM_Softmax(benchmark::State& state) {
  Softmax layer;
  run_layer(state, layer, kTags, 5 * 4);
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMicrosecond)->UseRealTime()->MeasureProcessCPUTime();

// A loss step: forward and backward from logits and targets.
void run_loss(benchmark::State& state, Loss& loss, const std::vector<Tensor>& inputs, double bytes) {
  for (auto _ : state) {
    const Tensor value = loss.forward(inputs);
    const Tensor dlogits = loss.backward();
    benchmark::DoNotOptimize(dlogits.raw_data());
  }
  report(state, inputs[0].numel(), bytes);
}

// BCE: logits and targets read twice, the gradient written once.
void BM_BCEWithLogits(benchmark::State& state) {
  BCEWithLogits loss;
  const Tensor targets = uniform(kTags, 0.0f, 1.0f, 3).cast(DType::f64);
  std::vector<double> t = targets.to_vector<double>();
  for (double& v : t) v = v < 0.05 ? 1.0 : 0.0;  // ~5% of tags present, as in Danbooru
  run_loss(state, loss, {uniform(kTags, -8.0f, 8.0f, 4), Tensor::from_vector(t, kTags).cast(DType::f32)},
           5.0 * 4 * double(shape_numel(kTags)));
}
BENCHMARK(BM_BCEWithLogits)->Unit(benchmark::kMicrosecond)->UseRealTime()->MeasureProcessCPUTime();

// Cross-entropy over 1,539 classes: logits read, probabilities written and read, gradient written.
void BM_CrossEntropy(benchmark::State& state) {
  CrossEntropy loss;
  std::vector<int64_t> labels = {3, 1538, 0, 700, 12, 999, 512, 1024};
  run_loss(state, loss, {uniform(kTags, -8.0f, 8.0f, 5), Tensor::from_vector(labels, {kTags[0]})},
           4.0 * 4 * double(shape_numel(kTags)));
}
BENCHMARK(BM_CrossEntropy)->Unit(benchmark::kMicrosecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
