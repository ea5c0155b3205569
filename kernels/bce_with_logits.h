// Sigmoid + binary cross-entropy, fused, with PyTorch's BCEWithLogitsLoss semantics: for logit x,
// target t in [0, 1] and positive weight w (pos_weight of the element's class, 1 without one),
//
//     loss = (1 − t)·x + (1 + (w − 1)·t) · (log1p(e^−|x|) + max(−x, 0))
//
// (with w = 1: max(x, 0) − x·t + log1p(e^−|x|)). No exp() of a positive number is taken, so
// the loss is finite and exact to rounding for any logit, ±1e4 included; log σ(x) is never
// formed. Its derivative is (1 − t) − (1 + (w − 1)·t) · σ(−x).
//
// An optional mask [N, C] ignores the elements where it is 0: they add nothing to the loss or
// to the gradient, and the mean is over the kept elements only (0 when none is kept).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/dispatch.h"
#include "kernels/host_device.h"
#include "kernels/reduce.h"

namespace i2v {

template <typename T>
I2V_HD T bce_with_logits(T x, T t, T pos_weight) {
  const T log_weight = T(1) + (pos_weight - T(1)) * t;
  return (T(1) - t) * x + log_weight * (std::log1p(std::exp(-std::fabs(x))) + (x < T(0) ? -x : T(0)));
}

template <typename T>
I2V_HD T bce_with_logits_grad(T x, T t, T pos_weight) {
  const T log_weight = T(1) + (pos_weight - T(1)) * t;
  return (T(1) - t) - log_weight * SigmoidMath<T>().forward(-x);
}

// The inputs of the loss: logits and targets [n], optional pos_weight [classes] and mask [n].
template <typename T>
struct BceInputs {
  const T* logits;
  const T* targets;
  const T* pos_weight;  // null: 1 for every class
  const T* mask;        // null: keep every element
  int64_t classes;
  I2V_HD bool kept(int64_t i) const { return mask == nullptr || mask[i] != T(0); }
  I2V_HD T weight(int64_t i) const { return pos_weight == nullptr ? T(1) : pos_weight[i % classes]; }
};

// {the element's loss, 1} where kept, {0, 0} where ignored.
template <typename T>
struct BceTerms {
  BceInputs<T> in;
  I2V_HD Sums<T, 2> operator()(int64_t i, int64_t) const {
    if (!in.kept(i)) return {{T(0), T(0)}};
    return {{bce_with_logits(in.logits[i], in.targets[i], in.weight(i)), T(1)}};
  }
};

// loss = Σ / kept (mean; 0 when nothing is kept) or Σ · sum_scale (sum: 1; batch mean:
// 1 / rows), from sums = {Σ, kept}.
template <typename T>
I2V_HD T bce_loss_scale(const T* sums, bool mean, T sum_scale) {
  return !mean ? sum_scale : sums[1] > T(0) ? T(1) / sums[1] : T(0);
}

template <typename T>
struct BceFinish {
  const T* sums;
  bool mean;
  T sum_scale;
  T* loss;
  I2V_HD void operator()(int64_t) const { loss[0] = sums[0] * bce_loss_scale(sums, mean, sum_scale); }
};

template <typename T>
struct BceBackward {
  BceInputs<T> in;
  const T* sums;
  bool mean;
  T sum_scale;
  T* dlogits;
  I2V_HD void operator()(int64_t i) const {
    if (!in.kept(i)) {
      dlogits[i] = T(0);
      return;
    }
    dlogits[i] = bce_with_logits_grad(in.logits[i], in.targets[i], in.weight(i)) * bce_loss_scale(sums, mean, sum_scale);
  }
};

}  // namespace i2v

// Over n elements (logits, targets and mask [n], pos_weight [classes], the class of element i
// being i % classes): sums = {Σ kept losses, number kept}, loss[0] = the mean over the kept
// elements (`mean`) or their sum times `sum_scale`. The count is a float sum: exact up to 2^24
// elements.
I2V_DECLARE_FLOATING_KERNEL(void bce_with_logits_forward(const scalar_t* logits, const scalar_t* targets,
                                                         const scalar_t* pos_weight, const scalar_t* mask, int64_t n,
                                                         int64_t classes, bool mean, scalar_t sum_scale, scalar_t* sums,
                                                         scalar_t* loss))
// dlogits = d loss / d logits, with the forward's sums.
I2V_DECLARE_FLOATING_KERNEL(void bce_with_logits_backward(const scalar_t* logits, const scalar_t* targets,
                                                          const scalar_t* pos_weight, const scalar_t* mask, int64_t n,
                                                          int64_t classes, bool mean, scalar_t sum_scale,
                                                          const scalar_t* sums, scalar_t* dlogits))
