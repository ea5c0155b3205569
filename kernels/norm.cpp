#include "kernels/norm.h"

#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void sum_of_squares(const T* x, int64_t n, T* out) {
  channel_sums<1>(SquaredValues<T>{x}, 1, 1, n, T(1), out);
}

template void sum_of_squares<float>(const float*, int64_t, float*);
template void sum_of_squares<double>(const double*, int64_t, double*);

}  // namespace i2v::cpu
