#include "kernels/cross_entropy.h"

#include "kernels/elementwise_cpu.h"
#include "kernels/reduce_cpu.h"
#include "kernels/softmax.h"

namespace i2v::cpu {

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* targets, int64_t n, int64_t classes, T* probabilities,
                           T* log_sum_exp, T* loss) {
  softmax_forward(logits, n, classes, 1, probabilities, log_sum_exp);
  channel_sums<1>(CrossEntropyTerms<T>{logits, targets, log_sum_exp, classes}, 1, 1, n, T(1) / T(n), loss);
}

template <typename T>
void cross_entropy_backward(const T* probabilities, const int64_t* targets, int64_t n, int64_t classes, T* dlogits) {
  for_each_element(CrossEntropyBackward<T>{probabilities, targets, classes, T(1) / T(n), dlogits}, n * classes);
}

#define I2V_INSTANTIATE(T)                                                                          \
  template void cross_entropy_forward<T>(const T*, const int64_t*, int64_t, int64_t, T*, T*, T*); \
  template void cross_entropy_backward<T>(const T*, const int64_t*, int64_t, int64_t, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
