#include "kernels/activation.h"

#include "kernels/elementwise_cpu.h"

namespace i2v::cpu {

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
  for_each_element(ReluForward<T>{x, y}, n);
}

template <typename T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  for_each_element(ReluBackward<T>{x, dy, dx}, n);
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t n, T slope) {
  for_each_element(LeakyReluForward<T>{x, y, slope}, n);
}

template <typename T>
void leaky_relu_backward(const T* x, const T* dy, T* dx, int64_t n, T slope) {
  for_each_element(LeakyReluBackward<T>{x, dy, dx, slope}, n);
}

template <typename T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
  for_each_element(SigmoidForward<T>{x, y}, n);
}

template <typename T>
void sigmoid_backward(const T* y, const T* dy, T* dx, int64_t n) {
  for_each_element(SigmoidBackward<T>{y, dy, dx}, n);
}

#define I2V_INSTANTIATE(T)                                                        \
  template void relu_forward<T>(const T*, T*, int64_t);                           \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);                \
  template void leaky_relu_forward<T>(const T*, T*, int64_t, T);                  \
  template void leaky_relu_backward<T>(const T*, const T*, T*, int64_t, T);       \
  template void sigmoid_forward<T>(const T*, T*, int64_t);                        \
  template void sigmoid_backward<T>(const T*, const T*, T*, int64_t);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
