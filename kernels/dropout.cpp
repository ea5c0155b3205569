#include "kernels/dropout.h"

#include "kernels/elementwise_cpu.h"

namespace i2v::cpu {

template <typename T>
void dropout_apply(const T* x, T* y, int64_t n, uint64_t key, uint32_t threshold, T scale) {
  for_each_element(DropoutApply<T>{x, y, key, threshold, scale}, n);
}

template void dropout_apply<float>(const float*, float*, int64_t, uint64_t, uint32_t, float);
template void dropout_apply<double>(const double*, double*, int64_t, uint64_t, uint32_t, double);

}  // namespace i2v::cpu
