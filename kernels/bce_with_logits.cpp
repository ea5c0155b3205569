#include "kernels/bce_with_logits.h"

#include "kernels/elementwise_cpu.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void bce_with_logits_forward(const T* logits, const T* targets, const T* pos_weight, const T* mask, int64_t n,
                             int64_t classes, bool mean, T sum_scale, T* sums, T* loss) {
  channel_sums<2>(BceTerms<T>{{logits, targets, pos_weight, mask, classes}}, 1, 1, n, T(1), sums);
  BceFinish<T>{sums, mean, sum_scale, loss}(0);
}

template <typename T>
void bce_with_logits_backward(const T* logits, const T* targets, const T* pos_weight, const T* mask, int64_t n,
                              int64_t classes, bool mean, T sum_scale, const T* sums, T* dlogits) {
  for_each_element(BceBackward<T>{{logits, targets, pos_weight, mask, classes}, sums, mean, sum_scale, dlogits}, n);
}

#define I2V_INSTANTIATE(T)                                                                                    \
  template void bce_with_logits_forward<T>(const T*, const T*, const T*, const T*, int64_t, int64_t, bool, T, \
                                           T*, T*);                                                              \
  template void bce_with_logits_backward<T>(const T*, const T*, const T*, const T*, int64_t, int64_t, bool, T,   \
                                            const T*, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
