#include "nn/losses/cross_entropy.h"

#include "kernels/cross_entropy.h"
#include "base/error.h"

namespace i2v {

void CrossEntropy::clear_saved() { probabilities_ = targets_ = Tensor(); }

Tensor CrossEntropy::forward(const std::vector<Tensor>& inputs) {
  I2V_CHECK(inputs.size() == 2, "{}: takes logits and targets, got {} inputs", describe(), inputs.size());
  const Tensor logits = inputs[0].contiguous();
  const Tensor& targets = inputs[1];
  I2V_CHECK(logits.dim() == 2, "{}: logits must be [N, K], got {}", describe(), shape_str(logits.shape()));
  const int64_t n = logits.size(0), classes = logits.size(1);
  I2V_CHECK(n > 0 && classes > 0, "{}: empty logits {}", describe(), shape_str(logits.shape()));
  I2V_CHECK(targets.shape() == Shape{n}, "{}: targets {} for logits {}: expected [{}]", describe(),
            shape_str(targets.shape()), shape_str(logits.shape()), n);
  I2V_CHECK(targets.dtype() == DType::i64 || targets.dtype() == DType::i32,
            "{}: targets are class indices (i64 or i32), got {}", describe(), dtype_name(targets.dtype()));
  I2V_CHECK(targets.device() == logits.device(), "{}: targets on {}, logits on {}", describe(),
            targets.device().name(), logits.device().name());
  const std::vector<int64_t> labels = targets.cast(DType::i64).to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    I2V_CHECK(labels[size_t(i)] >= 0 && labels[size_t(i)] < classes, "{}: target[{}] = {} is not a class in [0, {})",
              describe(), i, labels[size_t(i)], classes);

  clear_saved();
  targets_ = Tensor::from_vector(labels, {n}, logits.device());
  probabilities_ = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  Tensor log_sum_exp = Tensor::empty({n}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty({1}, logits.dtype(), logits.device());
  I2V_DISPATCH_FLOATING(logits.device(), logits.dtype(), cross_entropy_forward, logits.data<scalar_t>(),
                        targets_.data<int64_t>(), n, classes, probabilities_.data<scalar_t>(),
                        log_sum_exp.data<scalar_t>(), loss.data<scalar_t>());
  return loss;
}

Tensor CrossEntropy::backward() {
  I2V_CHECK(probabilities_.defined(), "{}: backward() without a forward()", describe());
  const int64_t n = probabilities_.size(0), classes = probabilities_.size(1);
  Tensor dlogits = Tensor::empty(probabilities_.shape(), probabilities_.dtype(), probabilities_.device());
  I2V_DISPATCH_FLOATING(probabilities_.device(), probabilities_.dtype(), cross_entropy_backward,
                        probabilities_.data<scalar_t>(), targets_.data<int64_t>(), n, classes,
                        dlogits.data<scalar_t>());
  return dlogits;
}

}  // namespace i2v
