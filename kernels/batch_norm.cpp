#include "kernels/batch_norm.h"

#include "kernels/elementwise_cpu.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void batch_norm_statistics(const T* x, int64_t n, int64_t c, int64_t s, T* mean, T* var) {
  const T inverse_count = T(1) / T(n * s);
  channel_sums<1>(ElementValues<T>{x}, n, c, s, inverse_count, mean);
  channel_sums<1>(SquaredDeviations<T>{x, mean}, n, c, s, inverse_count, var);
}

template <typename T>
void batch_norm_update_running(const T* mean, const T* var, int64_t c, int64_t m, T momentum, T* running_mean,
                               T* running_var, int64_t* num_batches_tracked) {
  const BatchNormRunningUpdate<T> update{mean,         var,         momentum,           T(m) / T(m - 1),
                                         running_mean, running_var, num_batches_tracked};
  for (int64_t channel = 0; channel < c; ++channel) update(channel);
}

// Plane by plane, the channel's scale computed once per plane.
template <typename T>
void batch_norm_forward(const T* x, const T* mean, const T* var, const T* gamma, const T* beta, int64_t n, int64_t c,
                        int64_t s, T eps, T* y) {
#pragma omp parallel for if (n * c * s > (1 << 16))
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const int64_t channel = plane % c;
    const T m = mean[channel], scale = batch_norm_scale(gamma[channel], var[channel], eps), b = beta[channel];
    const T* xp = x + plane * s;
    T* yp = y + plane * s;
#pragma omp simd
    for (int64_t j = 0; j < s; ++j) yp[j] = batch_norm_output(xp[j], m, scale, b);
  }
}

template <typename T>
void batch_norm_backward_sums(const T* x, const T* dy, const T* mean, int64_t n, int64_t c, int64_t s, T* sums) {
  channel_sums<2>(BatchNormGradTerms<T>{x, dy, mean}, n, c, s, T(1), sums);
}

template <typename T>
void batch_norm_backward_parameters(const T* var, const T* sums, int64_t c, T eps, T* dgamma, T* dbeta) {
  const BatchNormParameterGrads<T> parameter_grads{var, sums, eps, c, dgamma, dbeta};
  for (int64_t channel = 0; channel < c; ++channel) parameter_grads(channel);
}

// Plane by plane, the channel's coefficients computed once per plane.
template <typename T>
void batch_norm_backward_input(const T* x, const T* dy, const T* mean, const T* var, const T* gamma, const T* sums,
                               int64_t count, int64_t n, int64_t c, int64_t s, T eps, T* dx) {
#pragma omp parallel for if (n * c * s > (1 << 16))
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const int64_t channel = plane % c;
    const BatchNormGradCoefficients<T> k =
        batch_norm_grad_coefficients(gamma[channel], var[channel], eps, sums[channel], sums[c + channel], T(count));
    const T m = mean[channel];
    const T *xp = x + plane * s, *dyp = dy + plane * s;
    T* dxp = dx + plane * s;
#pragma omp simd
    for (int64_t j = 0; j < s; ++j) dxp[j] = batch_norm_input_grad(k, xp[j], dyp[j], m);
  }
}

#define I2V_INSTANTIATE(T)                                                                                   \
  template void batch_norm_statistics<T>(const T*, int64_t, int64_t, int64_t, T*, T*);                       \
  template void batch_norm_update_running<T>(const T*, const T*, int64_t, int64_t, T, T*, T*, int64_t*);     \
  template void batch_norm_forward<T>(const T*, const T*, const T*, const T*, const T*, int64_t, int64_t,    \
                                      int64_t, T, T*);                                                       \
  template void batch_norm_backward_sums<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, T*);   \
  template void batch_norm_backward_parameters<T>(const T*, const T*, int64_t, T, T*, T*);                 \
  template void batch_norm_backward_input<T>(const T*, const T*, const T*, const T*, const T*, const T*,     \
                                             int64_t, int64_t, int64_t, int64_t, T, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
