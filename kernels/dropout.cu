// Dropout on the GPU (see dropout.h): one grid-stride loop; each element hashes its own index.
// Memory-bound: 8 bytes per element and ~12 integer operations for the hash.
#include "kernels/dropout.h"
#include "kernels/elementwise.cuh"

namespace i2v::I2V_GPU_NS {

void dropout_apply(const float* x, float* y, int64_t n, uint64_t key, uint32_t threshold, float scale) {
  for_each_element(DropoutApply<float>{x, y, key, threshold, scale}, n);
}

}  // namespace i2v::I2V_GPU_NS
