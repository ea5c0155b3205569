// The sum of squares on the GPU: the two-pass reduction of kernels/reduce.cuh. Memory-bound, one
// read of each element (4 bytes per 2 FLOPs).
#include "kernels/gpu.cuh"
#include "kernels/norm.h"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {

void sum_of_squares(const float* x, int64_t n, float* out) {
  if (n == 0) {
    CUDA_CHECK(cudaMemset(out, 0, sizeof(float)));
    return;
  }
  channel_sums<1>(SquaredValues<float>{x}, 1, 1, n, 1.0f, out);
}

}  // namespace i2v::I2V_GPU_NS
