// --device, --precision and --trace, for every command that runs a network: where it runs and, on a GPU,
// the arithmetic of its convolutions and matrix products (kernels/precision.h: tf32 tensor cores
// by default, as PyTorch's convolutions; fp32 for the exact SIMT kernels).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "kernels/device.h"

namespace i2v::app {

// --device NAME into `device`: cpu, sim or cuda, checked as the command line is parsed, so that
// a cuda without a usable GPU or driver is refused before any work, saying why (Device::parse).
CLI::Option* add_device_option(CLI::App* command, std::string& device, const std::string& help = "cpu, sim or cuda");

struct DeviceOptions {
  std::string device = "cpu";
  std::string precision = "tf32";
  std::string trace;  // --trace FILE (apps/trace_option.h)

  void add(CLI::App* command);
  // Parses the device and precision, sets the process's matrix-product precision, starts the
  // trace if asked, and returns the device.
  Device apply() const;
};

}  // namespace i2v::app
