#include "apps/device_options.h"

#include "kernels/precision.h"

namespace i2v::app {

void DeviceOptions::add(CLI::App* command) {
  command->add_option("--device", device, "cpu, sim or cuda")->capture_default_str();
  command->add_option("--precision", precision,
                      "Of convolutions and matrix products (kernels/precision.h): tf32 (GPU tensor cores; the cpu "
                      "computes tf32 in fp32), bf16 (mixed precision as PyTorch's bf16 autocast: tensor cores, or "
                      "AVX-512 BF16 on the cpu) or fp32 (exact)")
      ->capture_default_str();
}

Device DeviceOptions::apply() const {
  const Device parsed = Device::parse(device);
  set_matmul_precision(parse_precision(precision));
  return parsed;
}

}  // namespace i2v::app
