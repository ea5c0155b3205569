// main() of every test binary: picks the run's seed, puts the sim device in its shuffled
// schedule (so that a kernel missing a barrier fails here rather than on someone's GPU), poisons
// every new tensor (so that an output a kernel never wrote fails a comparison) and makes the GPU's
// matrix products fp32 (kernels/precision.h): tests compare devices at fp32 tolerances, and the
// ones of the TF32 tensor-core kernels set tf32 themselves.
#include <cctype>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>

#include "kernels/precision.h"
#include "kernels/sim/simt.h"
#include "tests/test_util.h"

namespace i2v::test {
namespace {
uint64_t g_seed = 0;
}

uint64_t run_seed() { return g_seed; }

std::mt19937_64 test_rng() {
  const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  return std::mt19937_64(g_seed ^ std::hash<std::string>{}(name));
}

Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, Device device, float lo, float hi) {
  std::uniform_real_distribution<float> uniform(lo, hi);
  std::vector<float> values(size_t(shape_numel(shape)));
  for (float& v : values) v = uniform(rng);
  return Tensor::from_vector(values, shape, device);
}

std::string python_missing(const std::string& modules) {
  const std::string probe = "/usr/bin/python3 -c 'import " + modules + "' >/dev/null 2>&1";
  if (std::system(probe.c_str()) == 0) return "";
  std::string packages;
  size_t begin = 0;
  while (begin < modules.size()) {
    size_t end = modules.find(',', begin);
    if (end == std::string::npos) end = modules.size();
    std::string module = modules.substr(begin, end - begin);
    module.erase(0, module.find_first_not_of(' '));
    const size_t dot = module.find('.');  // google.protobuf -> python3-protobuf
    std::string package = module.rfind("google.", 0) == 0 ? module.substr(dot + 1) : module;
    for (char& c : package) c = char(std::tolower(static_cast<unsigned char>(c)));  // PIL -> python3-pil
    packages += " python3-" + package;
    begin = end + 1;
  }
  return "/usr/bin/python3 cannot import " + modules + ": install python3" + packages + " (./run.sh test installs them)";
}

std::string onnx_runtime_missing() {
  if (std::system("node --version > /dev/null 2>&1") != 0) return "node is missing: ./run.sh test installs it (npm)";
  const std::string probe =
      fmt::format("NODE_PATH='{}' node -e \"require('onnxruntime-node')\" > /dev/null 2>&1", I2V_NODE_MODULES);
  if (std::system(probe.c_str()) == 0) return "";
  return fmt::format("onnxruntime-node is not in {}: ./run.sh test installs it (npm install --prefix <build>/npm "
                     "--ignore-scripts onnxruntime-node)", I2V_NODE_MODULES);
}

std::string onnx_runtime_command(const std::string& model, const std::string& input, const std::string& output) {
  return fmt::format("NODE_PATH='{}' node '{}/tests/onnx_runtime_run.js' '{}' '{}' '{}'", I2V_NODE_MODULES,
                     I2V_SOURCE_DIR, model, input, output);
}

std::vector<Device> all_devices() { return available_devices(); }

std::vector<Device> gpu_devices() {
  std::vector<Device> devices = {Device::sim()};
  if (cuda_available()) devices.push_back(Device::cuda());
  return devices;
}

}  // namespace i2v::test

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const char* fixed = std::getenv("I2V_TEST_SEED");
  i2v::test::g_seed = fixed ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
  std::printf("[ i2v    ] I2V_TEST_SEED=%llu (set it to replay this run); sim schedule: shuffled; new tensors: NaN\n",
              static_cast<unsigned long long>(i2v::test::g_seed));
  if (!i2v::cuda_available())
    std::printf("[ i2v    ] cuda device skipped: %s\n", i2v::cuda_unavailable_reason().c_str());
  i2v::simt::set_schedule(i2v::simt::Schedule::shuffled, i2v::test::g_seed);
  i2v::set_poison_new_tensors(true);  // an output element no kernel wrote reads as NaN
  i2v::set_matmul_precision(i2v::Precision::fp32);
  return RUN_ALL_TESTS();
}
