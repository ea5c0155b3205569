#include "kernels/pool.h"

#include "kernels/elementwise_cpu.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void max_pool2d_forward(const T* x, const Pool2dGeometry& g, T* y, int32_t* argmax) {
  for_each_element(MaxPoolForward<T>{x, y, argmax, g}, g.planes * g.out_h * g.out_w);
}

template <typename T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, const Pool2dGeometry& g, T* dx) {
  for_each_element(MaxPoolBackward<T>{dy, argmax, dx, g}, g.planes * g.in_h * g.in_w);
}

template <typename T>
void avg_pool2d_forward(const T* x, const Pool2dGeometry& g, T* y) {
  for_each_element(AvgPoolForward<T>{x, y, g}, g.planes * g.out_h * g.out_w);
}

template <typename T>
void avg_pool2d_backward(const T* dy, const Pool2dGeometry& g, T* dx) {
  for_each_element(AvgPoolBackward<T>{dy, dx, g}, g.planes * g.in_h * g.in_w);
}

template <typename T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t plane_size, T* y) {
  channel_sums<1>(ElementValues<T>{x}, 1, planes, plane_size, T(1) / T(plane_size), y);
}

template <typename T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t plane_size, T* dx) {
  for_each_element(GlobalAvgPoolBackward<T>{dy, dx, plane_size}, planes * plane_size);
}

#define I2V_INSTANTIATE(T)                                                                   \
  template void max_pool2d_forward<T>(const T*, const Pool2dGeometry&, T*, int32_t*);        \
  template void max_pool2d_backward<T>(const T*, const int32_t*, const Pool2dGeometry&, T*); \
  template void avg_pool2d_forward<T>(const T*, const Pool2dGeometry&, T*);                  \
  template void avg_pool2d_backward<T>(const T*, const Pool2dGeometry&, T*);                 \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, T*);                  \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
