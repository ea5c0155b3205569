// Helpers shared by the tests: the run's seed, random tensors, the device list that
// device-parameterised tests run over, and a limit on the memory a test may map.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/bfloat16.h"
#include "kernels/device.h"
#include "kernels/dispatch.h"
#include "base/error.h"
#include "nn/tensor.h"

// Calls the test kernel launcher test::fn (declared with I2V_DECLARE_GPU) for `device`: sim or cuda.
#define RUN_ON(device, fn, ...)                                                       \
  ((device).type == ::i2v::DeviceType::sim ? ::i2v::sim::test::fn(__VA_ARGS__)       \
                                           : I2V_CUDA_CALL(test::fn, __VA_ARGS__))

namespace i2v::test {

// The seed of this run: I2V_TEST_SEED when set, else fresh; printed at start-up.
uint64_t run_seed();
// A generator for the current test, derived from the run seed and the test's name, so each test
// draws fresh inputs every run and a failure replays with the printed seed.
std::mt19937_64 test_rng();

// x rounded to bfloat16 (to nearest, ties to even: kernels/bfloat16.h) and back: what a bf16
// product's operand, or an activation kept in bf16, holds.
inline float round_bf16(float x) { return bf16_value(to_bf16(x)); }
inline std::vector<float> rounded_bf16(std::vector<float> values) {
  for (float& x : values) x = round_bf16(x);
  return values;
}

// Uniform values in [lo, hi) — never all zeros or constants.
Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, Device device = Device::cpu(),
                     float lo = -1.0f, float hi = 1.0f);

// Why /usr/bin/python3 cannot run a cross-check that imports `modules` ("numpy, torch"), naming
// the Debian packages (./run.sh test installs them); empty when it can. A test that needs them
// fails without them: the only tests that skip are those needing hardware the machine lacks (a
// CUDA GPU, an AVX-512 CPU; tests/test_policy_test.cpp holds the tests to it).
std::string python_missing(const std::string& modules);

// Why ONNX Runtime cannot run here (node, or onnxruntime-node in the build's npm/ folder, where
// ./run.sh test installs it, is missing), naming the fix; empty when it can.
std::string onnx_runtime_missing();
// The shell command that runs the ONNX file `model` in ONNX Runtime on the float32 .npy `input`
// and writes its first output to the .npy `output` (tests/onnx_runtime_run.js).
std::string onnx_runtime_command(const std::string& model, const std::string& input, const std::string& output);

// While it lives, the process may map at most `bytes` more than it has mapped now: an
// allocation of a size a file merely declares then fails at once instead of filling the memory.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(size_t bytes) {
    size_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    getrlimit(RLIMIT_AS, &old_);
    rlimit limit = old_;
    limit.rlim_cur = std::min<rlim_t>(old_.rlim_max, rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + bytes);
    setrlimit(RLIMIT_AS, &limit);
  }
  ~AddressSpaceLimit() { setrlimit(RLIMIT_AS, &old_); }

 private:
  rlimit old_{};
};

// cpu, sim, and cuda when a GPU is present.
std::vector<Device> all_devices();
// sim, and cuda when a GPU is present: where the .cu kernels run.
std::vector<Device> gpu_devices();

inline std::string device_name(const testing::TestParamInfo<Device>& info) { return info.param.name(); }

// Runs `body` and expects an i2v::Error whose message contains `fragment`.
template <typename F>
void expect_error_containing(F body, const std::string& fragment) {
  try {
    body();
    synchronize(Device::sim());
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace i2v::test

namespace i2v {
// How GoogleTest prints a Device parameter (in test names and failures).
inline void PrintTo(const Device& device, std::ostream* os) { *os << device.name(); }
}  // namespace i2v
