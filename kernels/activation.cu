// Elementwise activations on the GPU (see activation.h): each is one grid-stride loop running
// the element body shared with the CPU.
//
// Memory-bound: forward reads and writes 4 bytes per element, backward reads 8 and writes 4,
// for a comparison or an exp; at ~3 TB/s an H100 does ~250 G elements/s forward.
#include "kernels/activation.h"
#include "kernels/elementwise.cuh"

namespace i2v::I2V_GPU_NS {

void relu_forward(const float* x, float* y, int64_t n) { for_each_element(ReluForward<float>{x, y}, n); }

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  for_each_element(ReluBackward<float>{x, dy, dx}, n);
}

void leaky_relu_forward(const float* x, float* y, int64_t n, float slope) {
  for_each_element(LeakyReluForward<float>{x, y, slope}, n);
}

void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope) {
  for_each_element(LeakyReluBackward<float>{x, dy, dx, slope}, n);
}

void sigmoid_forward(const float* x, float* y, int64_t n) { for_each_element(SigmoidForward<float>{x, y}, n); }

void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_element(SigmoidBackward<float>{y, dy, dx}, n);
}

}  // namespace i2v::I2V_GPU_NS
