#include "nn/losses/bce_with_logits.h"

#include <fmt/format.h>

#include "kernels/bce_with_logits.h"
#include "base/error.h"

namespace i2v {

BCEWithLogits::BCEWithLogits(Reduction reduction, Tensor pos_weight)
    : reduction_(reduction), pos_weight_(std::move(pos_weight)) {
  if (pos_weight_.defined())
    I2V_CHECK(pos_weight_.dim() == 1, "bce_with_logits: pos_weight must be [C], got {}",
              shape_str(pos_weight_.shape()));
}

std::string BCEWithLogits::describe() const {
  std::string text = fmt::format("bce_with_logits {}", reduction_name(reduction_));
  if (pos_weight_.defined()) text += fmt::format(" pos_weight[{}]", pos_weight_.numel());
  return text;
}

double BCEWithLogits::sum_scale(const Tensor& logits) const {
  // batch_mean: the sum over each sample's outputs, averaged over the samples (rows).
  return reduction_ == Reduction::batch_mean ? double(logits.size(-1)) / double(logits.numel()) : 1.0;
}

void BCEWithLogits::clear_saved() {
  logits_ = targets_ = mask_ = sums_ = Tensor();
}

Tensor BCEWithLogits::forward(const std::vector<Tensor>& inputs) {
  I2V_CHECK(inputs.size() == 2 || inputs.size() == 3, "{}: takes logits, targets and an optional mask, got {} inputs",
            describe(), inputs.size());
  const Tensor logits = inputs[0].contiguous();
  I2V_CHECK(logits.dim() >= 1, "{}: logits of shape {}", describe(), shape_str(logits.shape()));
  const char* names[] = {"logits", "targets", "mask"};
  for (size_t i = 1; i < inputs.size(); ++i)
    I2V_CHECK(inputs[i].shape() == logits.shape() && inputs[i].device() == logits.device() &&
                  inputs[i].dtype() == logits.dtype(),
              "{}: {} {} {} on {}, logits {} {} on {}", describe(), names[i], dtype_name(inputs[i].dtype()),
              shape_str(inputs[i].shape()), inputs[i].device().name(), dtype_name(logits.dtype()),
              shape_str(logits.shape()), logits.device().name());
  const int64_t classes = logits.size(-1);
  if (pos_weight_.defined()) {
    I2V_CHECK(pos_weight_.numel() == classes, "{}: pos_weight has {} classes, logits {} have {}", describe(),
              pos_weight_.numel(), shape_str(logits.shape()), classes);
    pos_weight_ = pos_weight_.cast(logits.dtype()).to(logits.device());
  }
  clear_saved();
  logits_ = logits;
  targets_ = inputs[1].contiguous();
  if (inputs.size() == 3) mask_ = inputs[2].contiguous();
  sums_ = Tensor::empty({2}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty({1}, logits.dtype(), logits.device());
  I2V_DISPATCH_FLOATING(logits.device(), logits.dtype(), bce_with_logits_forward, logits.data<scalar_t>(),
                        targets_.data<scalar_t>(), pos_weight_.defined() ? pos_weight_.data<scalar_t>() : nullptr,
                        mask_.defined() ? mask_.data<scalar_t>() : nullptr, logits.numel(), classes,
                        reduction_ == Reduction::mean, scalar_t(sum_scale(logits)), sums_.data<scalar_t>(),
                        loss.data<scalar_t>());
  return loss;
}

Tensor BCEWithLogits::backward() {
  I2V_CHECK(logits_.defined(), "{}: backward() without a forward()", describe());
  Tensor dlogits = Tensor::empty(logits_.shape(), logits_.dtype(), logits_.device());
  I2V_DISPATCH_FLOATING(logits_.device(), logits_.dtype(), bce_with_logits_backward, logits_.data<scalar_t>(),
                        targets_.data<scalar_t>(), pos_weight_.defined() ? pos_weight_.data<scalar_t>() : nullptr,
                        mask_.defined() ? mask_.data<scalar_t>() : nullptr, logits_.numel(), logits_.size(-1),
                        reduction_ == Reduction::mean, scalar_t(sum_scale(logits_)), sums_.data<scalar_t>(),
                        dlogits.data<scalar_t>());
  return dlogits;
}

}  // namespace i2v
