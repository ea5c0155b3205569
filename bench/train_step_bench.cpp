// One training step of a zoo model (default i2v-tag: the VGG-11 trunk with the conv6 head, 1,539
// tag logits) on one device: zero the gradients, forward in training mode, BCE-with-logits (mean),
// backward, SGD with momentum 0.9 and weight decay 5e-4 — what train/trainer.cpp does per batch,
// less the data loading and the gradient norm (bench/train_step.h). bench/train_step_vs_torch.py
// runs it beside the same network in PyTorch on the same cores or the same GPU, in the same run.
//
//   train_step_bench [--device cpu|sim|cuda] [--precision fp32|tf32|bf16] [--image 224] [--batch 8]
//                    [--repetitions 5] [--warmup 2] [--breakdown] [--json]
//
// The model is built from its zoo config and initialised (He normal, seed 1); the images are
// N(0, 1) and the targets 0/1 with ~5% positives, both fixed for the run. Warm-up steps come
// first (the first step allocates the momentum buffers and grows the allocator's cache), then
// --repetitions timed steps: the best and the median are reported (on a shared machine other
// processes only ever slow a step down, so the best is the machine's speed, the median what a
// run sees). On a GPU (sim, cuda) every clock reading waits for the device first. --precision
// sets the matrix products' arithmetic (kernels/precision.h): on the cpu tf32 computes in fp32,
// bf16 with bf16 operands (vdpbf16ps where the CPU has AVX-512 BF16: kernels/gemm.h). --batch
// defaults to 64 on cuda, 8 elsewhere.
//
// --breakdown times every layer's forward and backward on its own, from Model::forward's and
// backward's word that a layer is done, for --repetitions more steps, and reports each layer's
// median. Its total matches the step's time to within the cost of the timers.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "base/error.h"
#include "bench/train_step.h"
#include "kernels/allocator.h"
#include "kernels/conv_avx512.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/model_config.h"
#include "train/sgd.h"

namespace i2v {
namespace {

using bench::median;
using bench::StepInputs;

// The clock, once `device` has finished what was queued on it (a GPU runs asynchronously).
double now_ms(Device device) {
  synchronize(device);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Minor page faults of the process so far: a step that reuses its memory takes none.
int64_t page_faults() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

double best(const std::vector<double>& values) { return *std::min_element(values.begin(), values.end()); }

// Milliseconds of each part of one step, for --breakdown.
struct StepParts {
  std::vector<double> forward, backward;  // per layer, in model order
  double zero_grad = 0, loss = 0, sgd = 0;
};

// One step timed layer by layer, through bench::train_step's marks (a layer's time includes what
// the model converts for it at bf16: its inputs widened, its output rounded; in the backward pass,
// its gradient's rounding counts to the layer before it).
StepParts timed_train_step(Model& model, Loss& loss, Sgd& sgd, const StepInputs& inputs) {
  const Device device = model.device();
  const std::vector<ModelNode>& nodes = model.nodes();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].name] = i;
  StepParts parts;
  parts.forward.resize(nodes.size());
  parts.backward.resize(nodes.size());
  double start = now_ms(device);
  const auto since_last_mark = [&] {
    const double end = now_ms(device), elapsed = end - start;
    start = end;
    return elapsed;
  };
  bench::StepMarks marks;
  marks.part = [&](bench::StepPart part) {
    switch (part) {
      case bench::StepPart::zero_grad: parts.zero_grad = since_last_mark(); break;
      case bench::StepPart::loss: parts.loss = since_last_mark(); break;
      case bench::StepPart::sgd: parts.sgd = since_last_mark(); break;
    }
  };
  marks.forward = [&](const std::string& layer) { parts.forward[index.at(layer)] = since_last_mark(); };
  marks.backward = [&](const std::string& layer) { parts.backward[index.at(layer)] = since_last_mark(); };
  bench::train_step(model, loss, sgd, inputs, marks);
  return parts;
}

std::string shape_json(const Shape& shape) { return nlohmann::json(shape).dump(); }

int run(int argc, char** argv) {
  std::string model_name = "i2v-tag";
  std::string device_flag = "cpu", precision_flag = "tf32";
  int64_t image = 224, batch = 0, outputs = 1539;
  int repetitions = 5, warmup = 2;
  bool breakdown = false, json_output = false, no_winograd = false;
  CLI::App app{"Times one training step (forward + BCE + backward + SGD with momentum and weight decay) of a zoo "
               "model on one device (the CPU on OMP_NUM_THREADS threads, or a GPU)."};
  app.add_option("--device", device_flag, "cpu, sim or cuda")->capture_default_str();
  app.add_option("--precision", precision_flag,
                 "the matrix products: fp32, tf32 (fp32 on the cpu) or bf16 (kernels/precision.h)")
      ->capture_default_str();
  app.add_option("--model", model_name, "zoo model (nn/model_zoo.h)")->capture_default_str();
  app.add_option("--image", image, "input height and width")->capture_default_str();
  app.add_option("--batch", batch, "images per step (default 64 on cuda, 8 elsewhere)");
  app.add_option("--outputs", outputs, "tags (logits) of the last layer")->capture_default_str();
  app.add_option("--repetitions", repetitions, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--breakdown", breakdown, "also time each layer's forward and backward (as many steps again)");
  app.add_flag("--json", json_output, "print one JSON object instead of text");
  app.add_flag("--no-winograd", no_winograd,
               "cpu at bf16: convolve 3x3 layers directly, not by Winograd (kernels/conv_avx512.h)");
  app.footer(
      "Examples:\n"
      "  OMP_NUM_THREADS=2 train_step_bench --image 224 --batch 8 --breakdown\n"
      "  OMP_NUM_THREADS=2 train_step_bench --image 64 --batch 32 --json\n"
      "  OMP_NUM_THREADS=2 train_step_bench --precision bf16     # bf16 operands, fp32 sums\n"
      "  OMP_NUM_THREADS=2 train_step_bench --precision bf16 --no-winograd   # direct 3x3 convolutions\n"
      "  train_step_bench --device cuda --precision fp32        # 224x224, batch 64\n"
      "  /usr/bin/python3 bench/train_step_vs_torch.py    # beside PyTorch, both sizes");
  CLI11_PARSE(app, argc, argv);
  const Device device = Device::parse(device_flag);
  I2V_CHECK(device != Device::cuda() || cuda_available(), "--device cuda: {}", cuda_unavailable_reason());
  const Precision precision = parse_precision(precision_flag);
  set_matmul_precision(precision);
  std::optional<cpu::WinogradOff> winograd_off;
  if (no_winograd) winograd_off.emplace();
  if (batch == 0) batch = device == Device::cuda() ? 64 : 8;
  I2V_CHECK(batch > 0, "--batch must be positive, not {}", batch);

  ZooOptions options;
  options.input_size = image;
  options.outputs = outputs;
  Model model = build_model(zoo_config(model_name, options));
  model.initialize(1);
  model.to(device);
  const std::vector<LayerSummary> summary = model.summary(batch);
  const Shape output_shape = summary.back().output_shape;
  int64_t flops = 0;
  for (const LayerSummary& row : summary) flops += row.flops;
  BCEWithLogits loss;
  Sgd sgd(model, bench::kStepSgd);
  const StepInputs inputs = bench::random_step_inputs(model, batch, outputs, device);

  double loss_value = 0;
  for (int i = 0; i < warmup; ++i) loss_value = bench::train_step(model, loss, sgd, inputs);
  std::vector<double> steps;
  const int64_t faults_before = page_faults();
  for (int i = 0; i < repetitions; ++i) {
    const double start = now_ms(device);
    loss_value = bench::train_step(model, loss, sgd, inputs);
    steps.push_back(now_ms(device) - start);
  }
  const double faults_per_step = double(page_faults() - faults_before) / repetitions;
  std::vector<std::vector<double>> forward(summary.size()), backward(summary.size());
  std::vector<double> zero_grad, loss_ms, sgd_ms;
  if (breakdown) {
    for (int i = 0; i < repetitions; ++i) {
      const StepParts parts = timed_train_step(model, loss, sgd, inputs);
      for (size_t l = 0; l < summary.size(); ++l) {
        forward[l].push_back(parts.forward[l]);
        backward[l].push_back(parts.backward[l]);
      }
      zero_grad.push_back(parts.zero_grad);
      loss_ms.push_back(parts.loss);
      sgd_ms.push_back(parts.sgd);
    }
  }
  const AllocatorStats memory = allocator(device).stats();
  const int threads = omp_get_max_threads();
  // What the matrix products ran in: the cpu computes tf32 in fp32, and bf16 on vdpbf16ps or on
  // rounded operands (kernels/gemm.h).
  const std::string computed =
      device.is_cpu() && precision != Precision::bf16 ? "fp32" : precision_name(precision);
  // Whether 3×3 layers convolve by Winograd (kernels/conv_avx512.h): asked for a VGG layer.
  const bool winograd =
      device.is_cpu() && cpu::conv_winograd_applies(8, 256, ConvGeometry{256, 56, 56, 3, 3, 1, 1, 1, 1});
  const std::string arithmetic = device.is_cpu() ? std::string(cpu::cpu_arithmetic_name(cpu::cpu_arithmetic())) +
                                                       (winograd ? ", Winograd F(2x2,3x3)" : "")
                                                 : computed;
  const double images_per_s = double(batch) / (best(steps) / 1e3);

  if (json_output) {
    nlohmann::json report = {{"model", model_name},
                             {"image", image},
                             {"batch", batch},
                             {"device", device.name()},
                             {"precision", computed},
                             {"arithmetic", arithmetic},
                             {"threads", threads},
                             {"parameters", model.parameter_count()},
                             {"output_shape", output_shape},
                             {"forward_gflop", double(flops) / 1e9},
                             {"loss", loss_value},
                             {"step_ms", steps},
                             {"best_ms", best(steps)},
                             {"median_ms", median(steps)},
                             {"images_per_s", images_per_s},
                             {"page_faults_per_step", faults_per_step},
                             {"peak_memory_bytes", memory.peak_in_use_bytes},
                             {"reserved_bytes", memory.reserved_bytes}};
    if (breakdown) {
      nlohmann::json layers = nlohmann::json::array();
      for (size_t l = 0; l < summary.size(); ++l)
        layers.push_back({{"name", summary[l].name},
                          {"forward_ms", median(forward[l])},
                          {"backward_ms", median(backward[l])}});
      report["layers"] = layers;
      report["zero_grad_ms"] = median(zero_grad);
      report["loss_ms"] = median(loss_ms);
      report["sgd_ms"] = median(sgd_ms);
    }
    std::printf("%s\n", report.dump().c_str());
    return 0;
  }

  const std::string where = device.is_cpu() ? fmt::format("{} threads, {}", threads, arithmetic)
                                            : fmt::format("{}, {}", device.name(), arithmetic);
  std::printf("%s, batch %lld of %lldx%lld, %s: %lld parameters, output %s, %.1f GFLOP forward\n",
              model_name.c_str(), static_cast<long long>(batch), static_cast<long long>(image),
              static_cast<long long>(image), where.c_str(), static_cast<long long>(model.parameter_count()),
              shape_json(output_shape).c_str(), double(flops) / 1e9);
  std::printf("training step: best %.1f ms, median %.1f ms of %d (after %d warm-up): %.2f images/s (best); loss %.4f\n",
              best(steps), median(steps), repetitions, warmup, images_per_s, loss_value);
  std::printf("memory: peak %.0f MiB in use, %.0f MiB held by the allocator; %.0f page faults per step\n",
              double(memory.peak_in_use_bytes) / (1 << 20), double(memory.reserved_bytes) / (1 << 20),
              faults_per_step);
  if (breakdown) {
    std::printf("\nper layer, median of %d steps (ms):\n%-10s %10s %10s %10s\n", repetitions, "layer", "forward",
                "backward", "total");
    double total = 0;
    for (size_t l = 0; l < summary.size(); ++l) {
      const double f = median(forward[l]), b = median(backward[l]);
      total += f + b;
      std::printf("%-10s %10.1f %10.1f %10.1f\n", summary[l].name.c_str(), f, b, f + b);
    }
    const double rest = median(zero_grad) + median(loss_ms) + median(sgd_ms);
    std::printf("%-10s %32.1f\n%-10s %32.1f\n%-10s %32.1f\n%-10s %32.1f\n", "zero_grad", median(zero_grad),
                "loss", median(loss_ms), "sgd", median(sgd_ms), "sum", total + rest);
  }
  return 0;
}

}  // namespace
}  // namespace i2v

int main(int argc, char** argv) {
  try {
    return i2v::run(argc, argv);
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "train_step_bench: %s\n", e.what());
    return 1;
  }
}
