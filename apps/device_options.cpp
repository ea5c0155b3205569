#include "apps/device_options.h"

#include "apps/trace_option.h"

#include "base/error.h"
#include "kernels/precision.h"

namespace i2v::app {

CLI::Option* add_device_option(CLI::App* command, std::string& device, const std::string& help) {
  const CLI::Validator usable(
      [](std::string& name) -> std::string {
        try {
          Device::parse(name);
        } catch (const Error& e) {
          return e.message();
        }
        return "";
      },
      "DEVICE");
  return command->add_option("--device", device, help)->capture_default_str()->check(usable);
}

void DeviceOptions::add(CLI::App* command) {
  add_device_option(command, device);
  command->add_option("--precision", precision,
                      "Of convolutions and matrix products (kernels/precision.h): tf32 (GPU tensor cores; the cpu "
                      "computes tf32 in fp32), bf16 (mixed precision as PyTorch's bf16 autocast: tensor cores, or "
                      "AVX-512 BF16 on the cpu) or fp32 (exact)")
      ->capture_default_str();
  add_trace_option(command, trace);
}

Device DeviceOptions::apply() const {
  const Device parsed = Device::parse(device);
  set_matmul_precision(parse_precision(precision));
  start_trace(trace);
  return parsed;
}

}  // namespace i2v::app
