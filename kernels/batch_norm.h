// Batch normalisation over the channels of x viewed as [N, C, S] (NCHW: S = H·W), with
// m = N·S values per channel, as PyTorch's BatchNorm2d:
//   training: mean and biased variance of the batch normalise; the running statistics move by
//             running = (1 − momentum)·running + momentum·batch, with the unbiased variance
//             (var · m / (m − 1));
//   eval:     the running statistics normalise.
//   y = (x − mean) · γ / √(var + eps) + β
// Backward, with x̂ = (x − mean)/√(var + eps):
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(var + eps) · (dy − Σdy/m − x̂ · Σ dy·x̂ / m).
// The sums are per-channel sums (kernels/reduce.h); the variance takes a second pass over
// (x − mean)² rather than E[x²] − mean², which cancels catastrophically when |mean| ≫ std.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"
#include "kernels/reduce.h"

namespace i2v {

// γ / √(var + eps): what multiplies x − mean, forward and backward.
template <typename T>
I2V_HD T batch_norm_scale(T gamma, T var, T eps) {
  return gamma / std::sqrt(var + eps);
}

template <typename T>
struct SquaredDeviations {
  const T* x;
  const T* mean;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t c) const {
    const T d = x[i] - mean[c];
    return {{d * d}};
  }
};

// {dy, dy · (x − mean)}: Σ of both gives dβ and, times 1/√(var + eps), dγ.
template <typename T>
struct BatchNormGradTerms {
  const T* x;
  const T* dy;
  const T* mean;
  I2V_HD Sums<T, 2> operator()(int64_t i, int64_t c) const { return {{dy[i], dy[i] * (x[i] - mean[c])}}; }
};

// Channel c's running statistics take one step towards the batch's; channel 0 counts the batch.
template <typename T>
struct BatchNormRunningUpdate {
  const T* mean;
  const T* var;
  T momentum;
  T unbiased;  // m / (m − 1)
  T* running_mean;
  T* running_var;
  int64_t* num_batches_tracked;
  I2V_HD void operator()(int64_t c) const {
    running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean[c];
    running_var[c] = (T(1) - momentum) * running_var[c] + momentum * var[c] * unbiased;
    if (c == 0) *num_batches_tracked += 1;
  }
};

// y = (x − mean) · scale + β with scale = batch_norm_scale(γ, var, eps).
template <typename T>
I2V_HD T batch_norm_output(T x, T mean, T scale, T beta) {
  return (x - mean) * scale + beta;
}

// dx = scale · (dy − mean_dy − (x − mean) · k) for the channel, from the sums Σdy and Σdy·(x − mean)
// over its m = count values.
template <typename T>
struct BatchNormGradCoefficients {
  T scale, mean_dy, k;
};

template <typename T>
I2V_HD BatchNormGradCoefficients<T> batch_norm_grad_coefficients(T gamma, T var, T eps, T sum_dy, T sum_dy_xmu,
                                                                 T count) {
  return {batch_norm_scale(gamma, var, eps), sum_dy / count, sum_dy_xmu / (count * (var + eps))};
}

template <typename T>
I2V_HD T batch_norm_input_grad(const BatchNormGradCoefficients<T>& k, T x, T dy, T mean) {
  return k.scale * (dy - k.mean_dy - (x - mean) * k.k);
}

// The GPU applies these per element (the CPU hoists the per-channel part out of a plane's loop).
template <typename T>
struct BatchNormApply {
  const T* x;
  const T* mean;
  const T* var;
  const T* gamma;
  const T* beta;
  T eps;
  int64_t channels, inner;
  T* y;
  I2V_HD void operator()(int64_t i) const {
    const int64_t c = (i / inner) % channels;
    y[i] = batch_norm_output(x[i], mean[c], batch_norm_scale(gamma[c], var[c], eps), beta[c]);
  }
};

template <typename T>
struct BatchNormInputGrad {
  const T* x;
  const T* dy;
  const T* mean;
  const T* var;
  const T* gamma;
  const T* sums;  // [2, C]: Σdy, Σdy·(x − mean)
  T eps;
  T count;  // m
  int64_t channels, inner;
  T* dx;
  I2V_HD void operator()(int64_t i) const {
    const int64_t c = (i / inner) % channels;
    const BatchNormGradCoefficients<T> k =
        batch_norm_grad_coefficients(gamma[c], var[c], eps, sums[c], sums[channels + c], count);
    dx[i] = batch_norm_input_grad(k, x[i], dy[i], mean[c]);
  }
};

// Channel c's parameter gradients from the sums: dγ += Σdy·(x − mean)/√(var + eps), dβ += Σdy
// (either may be null: a frozen parameter).
template <typename T>
struct BatchNormParameterGrads {
  const T* var;
  const T* sums;
  T eps;
  int64_t channels;
  T* dgamma;
  T* dbeta;
  I2V_HD void operator()(int64_t c) const {
    if (dgamma) dgamma[c] += sums[channels + c] * batch_norm_scale(T(1), var[c], eps);
    if (dbeta) dbeta[c] += sums[c];
  }
};

}  // namespace i2v

// mean[c] and the biased var[c] of x [n, c, s] over n and s.
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_statistics(const scalar_t* x, int64_t n, int64_t c, int64_t s,
                                                       scalar_t* mean, scalar_t* var))
// One step of the running statistics towards a batch of m = n·s values per channel, and
// ++num_batches_tracked (one element).
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_update_running(const scalar_t* mean, const scalar_t* var, int64_t c,
                                                           int64_t m, scalar_t momentum, scalar_t* running_mean,
                                                           scalar_t* running_var, int64_t* num_batches_tracked))
// y = (x − mean) · γ/√(var + eps) + β, with the batch's or the running statistics.
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_forward(const scalar_t* x, const scalar_t* mean, const scalar_t* var,
                                                    const scalar_t* gamma, const scalar_t* beta, int64_t n,
                                                    int64_t c, int64_t s, scalar_t eps, scalar_t* y))
// The backward of a training-mode forward (mean and var: the batch's), in three steps so that a
// data-parallel run can add the other ranks' sums between the first and the last
// (nn/layers/batch_norm2d.h, sync_batch_norm):
// the sums Σdy and Σdy·(x − mean) of each channel, into sums [2, C];
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_backward_sums(const scalar_t* x, const scalar_t* dy, const scalar_t* mean,
                                                          int64_t n, int64_t c, int64_t s, scalar_t* sums))
// dγ += Σdy·(x − mean)/√(var + eps) and dβ += Σdy from them (either may be null: frozen);
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_backward_parameters(const scalar_t* var, const scalar_t* sums, int64_t c,
                                                                scalar_t eps, scalar_t* dgamma, scalar_t* dbeta))
// dx from sums over `count` values per channel (the batch's n·s, or every rank's).
I2V_DECLARE_FLOATING_KERNEL(void batch_norm_backward_input(const scalar_t* x, const scalar_t* dy, const scalar_t* mean,
                                                           const scalar_t* var, const scalar_t* gamma,
                                                           const scalar_t* sums, int64_t count, int64_t n, int64_t c,
                                                           int64_t s, scalar_t eps, scalar_t* dx))
