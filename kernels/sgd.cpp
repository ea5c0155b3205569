#include "kernels/sgd.h"

namespace i2v::cpu {

template <typename T>
void sgd_step(int64_t n, T* weight, const T* grad, T* velocity, T lr, T momentum, T weight_decay, T grad_scale,
              bool first_step) {
  T unused = 0;
#pragma omp parallel for if (n > (1 << 16)) firstprivate(unused)
  for (int64_t i = 0; i < n; ++i)
    weight[i] = sgd_update(weight[i], grad[i], velocity ? &velocity[i] : &unused, lr, momentum, weight_decay, grad_scale,
                           first_step);
}

template void sgd_step<float>(int64_t, float*, const float*, float*, float, float, float, float, bool);
template void sgd_step<double>(int64_t, double*, const double*, double*, double, double, double, double, bool);

}  // namespace i2v::cpu
