#include "kernels/device.h"

#include "base/error.h"
#include "kernels/runtime.h"

namespace i2v {

Device Device::parse(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "sim") return sim();
  if (name == "cuda") {
    if (!cuda_available()) {
#if I2V_HAVE_CUDA
      I2V_THROW("device cuda: no usable CUDA device or driver was found (CUDA says: {}); `i2v devices` reports "
                "\"cuda  unavailable: {}\": use the cpu or sim device here", cuda_unavailable_reason(),
                cuda_unavailable_reason());
#else
      I2V_THROW("device cuda: no usable CUDA device, {}; `i2v devices` reports \"cuda  unavailable\": use the cpu "
                "or sim device, or configure with -DI2V_CUDA=ON and a CUDA toolkit", cuda_unavailable_reason());
#endif
    }
    return cuda();
  }
  I2V_THROW("unknown device '{}': expected cpu, sim or cuda", name);
}

std::string Device::name() const {
  switch (type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::sim: return "sim";
    case DeviceType::cuda: return "cuda";
  }
  return "?";
}

void throw_cuda_not_built(const char* function) {
  I2V_THROW("{}: this build has no CUDA support (nvcc was not found at configure time; "
            "configure with -DI2V_CUDA=ON and a CUDA toolkit)", function);
}

void throw_double_off_cpu(const char* function, Device device) {
  I2V_THROW("{}: double precision runs on the cpu device only (it is the gradient checker's "
            "reference), not on {}", function, device.name());
}

void throw_gpu_only(const char* function) {
  I2V_THROW("{}: a GPU kernel (sim or cuda devices only) was called for the cpu", function);
}

namespace {

struct CudaProbe {
  bool available = false;
  std::string reason;
};

const CudaProbe& cuda_probe() {
  static const CudaProbe probe = [] {
    CudaProbe p;
#if I2V_HAVE_CUDA
    p.available = cuda::device_count(&p.reason) > 0;
#else
    p.reason = "this build has no CUDA support (nvcc was not found at configure time)";
#endif
    return p;
  }();
  return probe;
}

}  // namespace

bool cuda_available() { return cuda_probe().available; }

std::string cuda_unavailable_reason() { return cuda_probe().reason; }

std::vector<Device> available_devices() {
  std::vector<Device> devices = {Device::cpu(), Device::sim()};
  if (cuda_available()) devices.push_back(Device::cuda());
  return devices;
}

std::string describe_devices() {
  std::string text = "cpu   host CPU kernels (kernels/*.cpp)\n";
  text += "sim   CUDA kernels (kernels/*.cu) on the SIMT emulator: " + sim::device_name() + "\n";
#if I2V_HAVE_CUDA
  if (cuda_available())
    text += "cuda  CUDA kernels on " + cuda::device_name() + "\n";
  else
    text += "cuda  unavailable: " + cuda_unavailable_reason() + "\n";
#else
  text += "cuda  unavailable: " + cuda_unavailable_reason() + "\n";
#endif
  return text;
}

}  // namespace i2v
