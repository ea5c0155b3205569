// GlobalMaxPool: the largest value of each channel's plane, NCHW → [N, C], for any plane size —
// ADD-GCN scores each category by the peak of its activation map (`topk(1)`), the global score
// of the GCN head's attention branch. Runs kernels/pool.h's max-pooling kernels with one window
// covering the plane; backward routes each gradient to the element chosen (the first of tied
// maxima, as MaxPool2d).
#pragma once

#include "nn/layer.h"
#include "nn/layers/pool2d.h"

namespace i2v {

class GlobalMaxPool final : public Layer {
 public:
  std::string kind() const override { return "global_max_pool"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { route_.clear(); }

 private:
  MaxPoolRoute route_;
};

}  // namespace i2v
