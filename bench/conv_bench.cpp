// Conv2d forward and backward on every 3×3 conv layer of VGG-11 (Simonyan & Zisserman 2015,
// configuration A; the trunk of the i2v tagger) at batch 8 and 224×224, on one device:
//
//   ./build/bench/conv_bench [--device=cpu|cuda|sim] [--batch=8] [--image=224] [--precision=tf32|fp32|bf16]
//                            [benchmark flags]
//
// Forward is Conv2d::forward in train mode; backward is Conv2d::backward computing the weight,
// bias and input gradients (conv1_1 no input gradient: in training nothing needs the image's).
// Counters: GFLOP/s (a multiply-add is 2 FLOP; backward does twice the forward's GEMM FLOPs,
// conv1_1 once) and, on the cpu, peak_fraction: GFLOP/s over the fp32 FMA peak measured at
// start-up with as many threads as OpenMP uses (kernels/cpu_peak.h), or over the vdpbf16ps peak when
// --precision=bf16 runs on it (kernels/gemm.h's cpu_arithmetic). At bf16 the cpu runs the forward
// and input gradient of every layer but conv1_1 by Winograd (kernels/conv_avx512.h), which
// multiplies 2.25x less: the counters still count the direct convolution's FLOPs (the rate a
// user sees), so peak_fraction may pass 1 there. bench/conv_vs_torch.py runs this and
// PyTorch on the same shapes. On a GPU (--device=cuda) the same code runs the CUDA kernels;
// --device=sim with a small --image only checks that they run.
#include <omp.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "bench/bench_util.h"
#include "kernels/cpu_peak.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "nn/layers/conv2d.h"

namespace {

using namespace i2v;

struct VggConv {
  const char* name;
  int64_t in, out;
  int64_t downsampling;  // the image size over the layer's input size
};

// VGG-11's conv layers (conv1_1 .. conv5_2), each 3×3, stride 1, padding 1.
constexpr VggConv kVgg11[] = {{"conv1_1", 3, 64, 1},     {"conv2_1", 64, 128, 2},   {"conv3_1", 128, 256, 4},
                              {"conv3_2", 256, 256, 4},  {"conv4_1", 256, 512, 8},  {"conv4_2", 512, 512, 8},
                              {"conv5_1", 512, 512, 16}, {"conv5_2", 512, 512, 16}};

Device g_device = Device::cpu();
int64_t g_batch = 8, g_image = 224;
double g_peak_gflops = 0;  // cpu only

struct Setup {
  Conv2d conv;
  Tensor x;
  int64_t forward_gemm_flops;

  explicit Setup(const VggConv& layer) : conv(layer.in, layer.out, 3, 1, 1) {
    std::mt19937_64 rng(1);
    const int64_t size = g_image / layer.downsampling;
    x = bench::normal_tensor({g_batch, layer.in, size, size}, g_device, rng);
    conv.weight().value = bench::normal_tensor(conv.weight().value.shape(), Device::cpu(), rng, 0.05);
    conv.bias().value = bench::normal_tensor({layer.out}, Device::cpu(), rng, 0.05);
    conv.to(g_device);
    forward_gemm_flops = 2 * g_batch * layer.out * size * size * layer.in * 9;
  }
};

void set_counters(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["GFLOP"] = flops_per_iteration / 1e9;
  if (g_peak_gflops > 0)
    state.counters["peak_fraction"] = benchmark::Counter(
        flops_per_iteration * double(state.iterations()) / 1e9 / g_peak_gflops, benchmark::Counter::kIsRate);
}

void conv_forward(benchmark::State& state, const VggConv& layer) {
  Setup s(layer);
  for (auto _ : state) {
    const Tensor y = s.conv.forward({s.x}, Mode::train);
    synchronize(g_device);
  }
  set_counters(state, double(s.forward_gemm_flops));
}

void conv_backward(benchmark::State& state, const VggConv& layer) {
  Setup s(layer);
  const bool need_input_grad = layer.in != 3;
  std::mt19937_64 rng(2);
  const Tensor y = s.conv.forward({s.x}, Mode::train);
  const Tensor dy = bench::normal_tensor(y.shape(), g_device, rng);
  for (auto _ : state) {
    const std::vector<Tensor> dx = s.conv.backward(dy, {need_input_grad});
    synchronize(g_device);
  }
  set_counters(state, double(s.forward_gemm_flops) * (need_input_grad ? 2 : 1));
}

}  // namespace

int main(int argc, char** argv) {
  g_device = Device::parse(bench::take_flag(argc, argv, "device", "cpu"));
  g_batch = std::stoll(bench::take_flag(argc, argv, "batch", "8"));
  g_image = std::stoll(bench::take_flag(argc, argv, "image", "224"));
  set_matmul_precision(parse_precision(bench::take_flag(argc, argv, "precision", "tf32")));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  benchmark::AddCustomContext("device", g_device.name());
  benchmark::AddCustomContext("batch", std::to_string(g_batch));
  benchmark::AddCustomContext("image", std::to_string(g_image));
  if (!g_device.is_cpu()) benchmark::AddCustomContext("precision", precision_name(matmul_precision()));
  if (g_device.is_cpu()) {
    const CpuPeak peak = measure_fma_peak(omp_get_max_threads());
    g_peak_gflops = peak.gflops;
    benchmark::AddCustomContext("fp32_peak_gflops", fmt::format("{:.1f}", peak.gflops));
    benchmark::AddCustomContext("fp32_peak", fmt::format("{} threads, {} FMA loop", peak.threads, peak.isa));
    benchmark::AddCustomContext("arithmetic", cpu::cpu_arithmetic_name(cpu::cpu_arithmetic()));
    if (cpu::cpu_arithmetic() == cpu::CpuArithmetic::bf16_pairs) {
      g_peak_gflops = measure_dpbf16_peak(omp_get_max_threads()).gflops;
      benchmark::AddCustomContext("bf16_peak_gflops", fmt::format("{:.1f}", g_peak_gflops));
    }
  }
  for (const VggConv& layer : kVgg11) {
    for (auto [kind, fn] : {std::pair{"forward", conv_forward}, std::pair{"backward", conv_backward}}) {
      benchmark::RegisterBenchmark(fmt::format("conv_{}/{}", kind, layer.name).c_str(), fn, layer)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
