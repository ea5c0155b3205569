// `i2v smoke`: a tiny network run on every device, to show that the CUDA kernels give the CPU's
// answer on the SIMT emulator (and on a GPU when there is one).
#include <cmath>
#include <cstdio>
#include <random>

#include "apps/commands.h"
#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "kernels/sim/simt.h"
#include "nn/tensor.h"

namespace i2v::app {
namespace {

Tensor random_uniform(const Shape& shape, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = uniform(rng);
  return Tensor::from_vector(v, shape);
}

// y = relu(x · W1ᵀ) · W2ᵀ on `device`: two GEMMs and a ReLU, all on the device.
Tensor tiny_network(const Tensor& x_host, const Tensor& w1_host, const Tensor& w2_host, Device device) {
  const Tensor x = x_host.to(device), w1 = w1_host.to(device), w2 = w2_host.to(device);
  const int64_t batch = x.size(0), in = x.size(1), hidden = w1.size(0), out = w2.size(0);
  Tensor h = Tensor::empty({batch, hidden}, DType::f32, device);
  Tensor y = Tensor::empty({batch, out}, DType::f32, device);
  I2V_DISPATCH(device, gemm, false, true, batch, hidden, in, 1.0f, x.data<float>(), in, w1.data<float>(), in,
               0.0f, h.data<float>(), hidden);
  I2V_DISPATCH(device, relu_forward, h.data<float>(), h.data<float>(), h.numel());
  I2V_DISPATCH(device, gemm, false, true, batch, out, hidden, 1.0f, h.data<float>(), hidden, w2.data<float>(),
               hidden, 0.0f, y.data<float>(), out);
  return y.to(Device::cpu());
}

void run_smoke(unsigned seed, const std::string& precision) {
  set_matmul_precision(parse_precision(precision));
  std::mt19937 rng(seed);
  const int64_t batch = 4, in = 8, hidden = 16, out = 4;
  const Tensor x = random_uniform({batch, in}, rng, 1.0f);
  const Tensor w1 = random_uniform({hidden, in}, rng, 1.0f / std::sqrt(float(in)));
  const Tensor w2 = random_uniform({out, hidden}, rng, 1.0f / std::sqrt(float(hidden)));
  std::printf("tiny network: Linear(%lld->%lld) -> ReLU -> Linear(%lld->%lld), batch %lld, seed %u, GPU products %s\n",
              (long long)in, (long long)hidden, (long long)hidden, (long long)out, (long long)batch, seed,
              precision_name(matmul_precision()));
  std::vector<float> reference;
  for (Device device : available_devices()) {
    const std::vector<float> y = tiny_network(x, w1, w2, device).to_vector<float>();
    if (reference.empty()) reference = y;
    float max_diff = 0.0f;
    for (size_t i = 0; i < y.size(); ++i) max_diff = std::max(max_diff, std::fabs(y[i] - reference[i]));
    for (int64_t r = 0; r < batch; ++r) {
      std::printf("%-5s y[%lld] =", r == 0 ? device.name().c_str() : "", (long long)r);
      for (int64_t c = 0; c < out; ++c) std::printf(" %+.6f", y[size_t(r * out + c)]);
      std::printf("\n");
    }
    if (!device.is_cpu()) std::printf("      max |%s - cpu| = %.3g\n", device.name().c_str(), max_diff);
  }
  const simt::Stats s = simt::stats();
  std::printf("sim emulator: %llu kernel launches, %llu blocks, %llu CUDA threads, %llu barriers completed\n",
              (unsigned long long)s.launches, (unsigned long long)s.blocks, (unsigned long long)s.threads,
              (unsigned long long)s.barriers);
}

void add_smoke_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("smoke", "Run a tiny network on every device and compare the outputs");
  static unsigned seed = 1;
  static std::string precision = "tf32";
  cmd->add_option("--seed", seed, "Seed of the random weights and inputs")->capture_default_str();
  cmd->add_option("--precision", precision, "The GPU's matrix products: tf32 (tensor cores) or fp32 (exact)")
      ->capture_default_str();
  cmd->footer("Runs y = relu(x W1^T) W2^T with the CPU kernels and with the CUDA kernels on the SIMT\n"
              "emulator (sim), and on a GPU when one is present; prints each output and the largest\n"
              "difference from the CPU's (in tf32, ~1e-3: operands rounded to 11 significant bits).\n\n"
              "Example:\n  i2v smoke --seed 7 --precision fp32");
  cmd->callback([] { run_smoke(seed, precision); });
}

const bool registered = register_command("smoke", add_smoke_command);

}  // namespace
}  // namespace i2v::app
