// A kernel that reads one element past the end of its input: AddressSanitizer must report it
// (sim_out_of_bounds_probe.cpp).
#include "kernels/gpu.cuh"

namespace i2v::I2V_GPU_NS::probe {
namespace {

__global__ void copy_one_too_many_kernel(const float* in, float* out, int n) {
  const int i = threadIdx.x;
  if (i <= n) out[i % n] = in[i];  // BUG on purpose: `<=` reads in[n]
}

}  // namespace

void copy_one_too_many(const float* in, float* out, int n) { I2V_LAUNCH(copy_one_too_many_kernel, 1, 64, 0, 0, in, out, n); }

}  // namespace i2v::I2V_GPU_NS::probe
