// Every GEMM variant on one device, first checked against Eigen's product on the cpu, then timed,
// on the GEMMs a VGG-11 training step runs (batch 8, 224×224; see nn/layers/conv2d.h for how a
// convolution becomes these) and a square one:
//
//   ./build/bench/gemm_bench [--device=cpu|cuda|sim] [benchmark flags]
//
// cpu variants: avx512 (kernels/gemm_avx512.cpp; when the CPU has AVX-512) and eigen in fp32;
// avx512_bf16 (bf16 pairs on vdpbf16ps; when the CPU has AVX-512 BF16) and avx512_bf16_rounded
// (bf16-rounded operands on the fp32 micro-kernel, as on AVX-512 CPUs without BF16), both at
// Precision::bf16 (kernels/gemm.h's CpuArithmetic). GPU variants: tile_64x64x16 and
// tile_128x128x8 (kernels/gemm.cu, fp32), tf32_128x128x32 and bf16_128x128x32
// (kernels/gemm_tensor_core.cu, tensor cores). Counters: GFLOP/s and, on the cpu, peak_fraction
// over the peak measured at start-up (kernels/cpu_peak.h): the vdpbf16ps peak for avx512_bf16, the fp32
// FMA peak for the others.
#include <omp.h>

#include <cmath>
#include <functional>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "bench/bench_util.h"
#include "kernels/cpu_peak.h"
#include "kernels/cpu_features.h"
#include "base/error.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"

namespace {

using namespace i2v;

struct GemmShape {
  const char* name;
  bool trans_a, trans_b;
  int64_t m, n, k;
};

// conv3_2 (256 -> 256 channels at 56×56, one image per GEMM) and conv5_1 (512 -> 512 at 14×14,
// eight images per GEMM) in their three GEMMs; the square one is not a multiple of any tile.
constexpr GemmShape kShapes[] = {
    {"conv3_2_forward", false, false, 256, 3136, 2304},  {"conv3_2_input_grad", true, false, 2304, 3136, 256},
    {"conv3_2_weight_grad", false, true, 256, 2304, 3136}, {"conv5_1_forward", false, false, 512, 1568, 4608},
    {"conv5_1_input_grad", true, false, 4608, 1568, 512},  {"conv5_1_weight_grad", false, true, 512, 4608, 1568},
    {"square_1000", false, false, 1000, 1000, 1000},
};

using GemmFn = std::function<void(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                  int64_t, float, float*, int64_t)>;

struct Variant {
  std::string name;
  GemmFn run;
  // Allowed |C − Eigen's C| over √k for N(0, 1) operands: fp32 rounding, or TF32's operands
  // rounded to 11 significant bits (~7e-4 · √k rms), or bf16's to 8 (~1.6e-3 · √k rms).
  double tolerance = 1e-4;
  bool bf16_peak = false;  // peak_fraction over the vdpbf16ps peak
};

Device g_device = Device::cpu();
double g_peak_gflops = 0, g_bf16_peak_gflops = 0;

std::vector<Variant> variants() {
  if (g_device.is_cpu()) {
    std::vector<Variant> v;
    if (cpu_has_avx512f()) v.push_back({"avx512", cpu::gemm_avx512});
    v.push_back({"eigen", cpu::gemm_eigen<float>});
    if (cpu_has_avx512_bf16())
      v.push_back({"avx512_bf16",
                   [](auto... args) {
                     PrecisionScope bf16(Precision::bf16);
                     cpu::Bf16KernelScope pairs(cpu::CpuArithmetic::bf16_pairs);  // even where it is slower
                     cpu::gemm_avx512(args...);
                   },
                   1.5e-2, true});
    if (cpu_has_avx512f())
      v.push_back({"avx512_bf16_rounded",
                   [](auto... args) {
                     PrecisionScope bf16(Precision::bf16);
                     CpuFeatureOff without_bf16(CpuFeature::avx512_bf16);
                     cpu::gemm_avx512(args...);
                   },
                   1.5e-2});
    return v;
  }
  const Device device = g_device;
  return {{"tile_64x64x16",
           [device](auto... args) {
             if (device == Device::sim()) sim::gemm_64x64(args...); else I2V_CUDA_CALL(gemm_64x64, args...);
           }},
          {"tile_128x128x8",
           [device](auto... args) {
             if (device == Device::sim()) sim::gemm_128x128(args...); else I2V_CUDA_CALL(gemm_128x128, args...);
           }},
          {"tf32_128x128x32",
           [device](auto... args) {
             if (device == Device::sim()) sim::gemm_tensor_core(Precision::tf32, args...);
             else I2V_CUDA_CALL(gemm_tensor_core, Precision::tf32, args...);
           },
           1e-2},
          {"bf16_128x128x32",
           [device](auto... args) {
             if (device == Device::sim()) sim::gemm_tensor_core(Precision::bf16, args...);
             else I2V_CUDA_CALL(gemm_tensor_core, Precision::bf16, args...);
           },
           8e-2}};
}

struct Operands {
  Tensor a, b, c;
  int64_t lda, ldb;
};

Operands make_operands(const GemmShape& s, Device device) {
  std::mt19937_64 rng(1);
  Operands o;
  o.lda = s.trans_a ? s.m : s.k;
  o.ldb = s.trans_b ? s.k : s.n;
  o.a = bench::normal_tensor({s.trans_a ? s.k : s.m, o.lda}, device, rng);
  o.b = bench::normal_tensor({s.trans_b ? s.n : s.k, o.ldb}, device, rng);
  o.c = Tensor::empty({s.m, s.n}, DType::f32, device);
  return o;
}

void run(const Variant& v, const GemmShape& s, Operands& o) {
  v.run(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, o.a.data<float>(), o.lda, o.b.data<float>(), o.ldb, 0.0f,
        o.c.data<float>(), s.n);
}

// Throws unless the variant's C matches Eigen's within float rounding of a k-term sum.
void check_against_eigen(const Variant& v, const GemmShape& s) {
  Operands on_device = make_operands(s, g_device), on_cpu = make_operands(s, Device::cpu());
  run(v, s, on_device);
  cpu::gemm_eigen<float>(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, on_cpu.a.data<float>(), on_cpu.lda,
                         on_cpu.b.data<float>(), on_cpu.ldb, 0.0f, on_cpu.c.data<float>(), s.n);
  const std::vector<float> got = on_device.c.to_vector<float>(), expected = on_cpu.c.to_vector<float>();
  const double allowed = v.tolerance * std::sqrt(double(s.k));
  for (size_t i = 0; i < got.size(); ++i)
    I2V_CHECK(std::fabs(got[i] - expected[i]) <= allowed, "gemm {} on {}: C[{}] = {}, Eigen's {}", v.name, s.name, i,
              got[i], expected[i]);
}

void time_gemm(benchmark::State& state, const Variant& v, const GemmShape& s) {
  check_against_eigen(v, s);
  Operands o = make_operands(s, g_device);
  for (auto _ : state) {
    run(v, s, o);
    synchronize(g_device);
  }
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  const double peak = v.bf16_peak ? g_bf16_peak_gflops : g_peak_gflops;
  if (peak > 0)
    state.counters["peak_fraction"] =
        benchmark::Counter(flops * double(state.iterations()) / 1e9 / peak, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  g_device = Device::parse(bench::take_flag(argc, argv, "device", "cpu"));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("device", g_device.name());
  if (g_device.is_cpu()) {
    const CpuPeak peak = measure_fma_peak(omp_get_max_threads());
    g_peak_gflops = peak.gflops;
    benchmark::AddCustomContext("fp32_peak_gflops", fmt::format("{:.1f}", peak.gflops));
    if (cpu_has_avx512_bf16()) {
      g_bf16_peak_gflops = measure_dpbf16_peak(omp_get_max_threads()).gflops;
      benchmark::AddCustomContext("bf16_peak_gflops", fmt::format("{:.1f}", g_bf16_peak_gflops));
    }
  }
  for (const GemmShape& shape : kShapes)
    for (const Variant& variant : variants())
      benchmark::RegisterBenchmark(fmt::format("gemm/{}/{}", shape.name, variant.name).c_str(), time_gemm, variant,
                                   shape)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
