// Pooling on the GPU (see pool.h): one thread per output element forward, one per input element
// backward (a gather, so overlapping windows need no atomics), running the bodies the CPU runs.
//
// Roofline: a k×k max/avg window reads k² inputs per output, but windows of stride s ≥ k touch
// each input once: 2×2 stride 2 reads 16 B and writes 4 B (+4 B argmax) per output; ~3 TB/s on an
// H100 gives ~120 G outputs/s, memory-bound. Backward reads dy and argmax once per covering
// window and writes dx once. Global average pooling is a per-plane sum (kernels/reduce.cuh).
#include "kernels/elementwise.cuh"
#include "kernels/pool.h"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {

void max_pool2d_forward(const float* x, const Pool2dGeometry& g, float* y, int32_t* argmax) {
  for_each_element(MaxPoolForward<float>{x, y, argmax, g}, g.planes * g.out_h * g.out_w);
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, const Pool2dGeometry& g, float* dx) {
  for_each_element(MaxPoolBackward<float>{dy, argmax, dx, g}, g.planes * g.in_h * g.in_w);
}

void avg_pool2d_forward(const float* x, const Pool2dGeometry& g, float* y) {
  for_each_element(AvgPoolForward<float>{x, y, g}, g.planes * g.out_h * g.out_w);
}

void avg_pool2d_backward(const float* dy, const Pool2dGeometry& g, float* dx) {
  for_each_element(AvgPoolBackward<float>{dy, dx, g}, g.planes * g.in_h * g.in_w);
}

void global_avg_pool_forward(const float* x, int64_t planes, int64_t plane_size, float* y) {
  channel_sums<1>(ElementValues<float>{x}, 1, planes, plane_size, 1.0f / float(plane_size), y);
}

void global_avg_pool_backward(const float* dy, int64_t planes, int64_t plane_size, float* dx) {
  for_each_element(GlobalAvgPoolBackward<float>{dy, dx, plane_size}, planes * plane_size);
}

}  // namespace i2v::I2V_GPU_NS
