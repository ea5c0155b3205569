// Softmax cross-entropy over classes with class-index targets, PyTorch's CrossEntropyLoss
// (mean over the batch): for logits x [N, K] and targets t [N],
//
//     loss = (1/N) Σ_n (log Σ_k exp(x[n, k]) − x[n, t_n]),   d loss / d x[n, k] = (p[n, k] − [k = t_n]) / N
//
// with p = softmax(x). The log-sum-exp comes from the softmax kernels (max subtracted before
// exp), so the loss is finite for logits of any size; log p is never formed from p.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"
#include "kernels/reduce.h"

namespace i2v {

// Row n's loss: log-sum-exp minus the target's logit.
template <typename T>
struct CrossEntropyTerms {
  const T* logits;
  const int64_t* targets;
  const T* log_sum_exp;
  int64_t classes;
  I2V_HD Sums<T, 1> operator()(int64_t n, int64_t) const {
    return {{log_sum_exp[n] - logits[n * classes + targets[n]]}};
  }
};

template <typename T>
struct CrossEntropyBackward {
  const T* probabilities;
  const int64_t* targets;
  int64_t classes;
  T inverse_batch;
  T* dlogits;
  I2V_HD void operator()(int64_t i) const {
    const int64_t n = i / classes, k = i - n * classes;
    dlogits[i] = (probabilities[i] - (k == targets[n] ? T(1) : T(0))) * inverse_batch;
  }
};

}  // namespace i2v

// loss[0] = mean cross-entropy of logits [n, classes] against targets [n] (each in
// [0, classes), checked by the caller); probabilities [n, classes] and log_sum_exp [n] are kept
// for backward.
I2V_DECLARE_FLOATING_KERNEL(void cross_entropy_forward(const scalar_t* logits, const int64_t* targets, int64_t n,
                                                       int64_t classes, scalar_t* probabilities,
                                                       scalar_t* log_sum_exp, scalar_t* loss))
// dlogits = (probabilities − one_hot(targets)) / n.
I2V_DECLARE_FLOATING_KERNEL(void cross_entropy_backward(const scalar_t* probabilities, const int64_t* targets,
                                                        int64_t n, int64_t classes, scalar_t* dlogits))
