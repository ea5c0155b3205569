// Elementwise activations on the GPU (see activation.h): each is one grid-stride loop running
// the element body shared with the CPU, on f32 or bf16 elements.
//
// Memory-bound: forward reads and writes 4 bytes per element (2 in bf16), backward reads 8 and
// writes 4 (4 and 2), for a comparison or an exp; at ~3 TB/s an H100 does ~250 G elements/s
// forward in f32, ~500 G in bf16. Passing bf16 through the f32 kernel instead (widen, compute,
// round) would move 20 bytes per element forward and 30 backward.
#include "kernels/activation.h"
#include "kernels/elementwise.cuh"

namespace i2v::I2V_GPU_NS {

I2V_DEFINE_ACTIVATION_KERNELS(float, float)
I2V_DEFINE_ACTIVATION_KERNELS(bfloat16, float)

}  // namespace i2v::I2V_GPU_NS
