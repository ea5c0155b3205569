#include "kernels/add.h"

#include "kernels/elementwise_cpu.h"

namespace i2v::cpu {

template <typename T>
void add_forward(const T* a, const T* b, T* y, int64_t n) {
  for_each_element(AddElements<T>{a, b, y}, n);
}

template void add_forward<float>(const float*, const float*, float*, int64_t);
template void add_forward<double>(const double*, const double*, double*, int64_t);

}  // namespace i2v::cpu
