// Where a tensor lives and where its kernels run:
//   cpu  — host memory, CPU kernels (kernels/*.cpp);
//   sim  — host memory, the CUDA kernels (kernels/*.cu) run by the SIMT emulator;
//   cuda — a real GPU, the same CUDA kernels compiled by nvcc.
#pragma once

#include <string>
#include <vector>

namespace i2v {

enum class DeviceType { cpu, sim, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;

  static Device cpu() { return {DeviceType::cpu}; }
  static Device sim() { return {DeviceType::sim}; }
  static Device cuda() { return {DeviceType::cuda}; }
  // "cpu", "sim" or "cuda"; anything else throws with the accepted names. "cuda" throws unless
  // cuda_available(), saying why (the CUDA error, or a build without CUDA) and what `i2v devices`
  // reports: a device is chosen here, before any work, not found missing at the first
  // allocation. (Device::cuda() names the device without asking.)
  static Device parse(const std::string& name);

  bool is_cpu() const { return type == DeviceType::cpu; }
  // True where memory is host-addressable (cpu and sim).
  bool is_host_memory() const { return type != DeviceType::cuda; }
  std::string name() const;
  bool operator==(const Device& other) const { return type == other.type; }
  bool operator!=(const Device& other) const { return type != other.type; }
};

// True when the build has CUDA and a GPU answers.
bool cuda_available();
// Why the cuda device is not available (empty when it is).
std::string cuda_unavailable_reason();
// cpu and sim always; cuda when available.
std::vector<Device> available_devices();
// One line per device: name and what runs there (for `i2v devices`).
std::string describe_devices();

}  // namespace i2v
