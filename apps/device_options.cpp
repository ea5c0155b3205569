#include "apps/device_options.h"

#include "kernels/precision.h"

namespace i2v::app {

void DeviceOptions::add(CLI::App* command) {
  command->add_option("--device", device, "cpu, sim or cuda")->capture_default_str();
  command->add_option("--precision", precision,
                      "Convolutions and matrix products on a GPU: tf32 (tensor cores) or fp32 (exact); the cpu "
                      "always computes in fp32")
      ->capture_default_str();
}

Device DeviceOptions::apply() const {
  const Device parsed = Device::parse(device);
  set_matmul_precision(parse_precision(precision));
  return parsed;
}

}  // namespace i2v::app
