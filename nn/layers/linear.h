// Linear (fully connected): y = x · weightᵀ + bias over the last axis of x, [..., in] -> [..., out].
// Weight [out, in], bias [out] (PyTorch's layouts and names). One GEMM each way:
//   forward       y[rows][out]  = x[rows][in] · weightᵀ
//   input grad    dx[rows][in]  = dy · weight
//   weight grad   grad_weight  += dyᵀ · x
//   bias grad     grad_bias    += column sums of dy (kernels/bias.h)
// where rows is the product of every axis but the last.
#pragma once

#include "nn/layer.h"
#include "nn/layers/kept_activation.h"
#include "nn/layers/weight_and_bias.h"

namespace i2v {

class Linear final : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);

  std::string kind() const override { return "linear"; }
  // "linear 4096->1539", "linear 8->16 no-bias"
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return params_.named(); }
  void clear_saved() override { input_ = KeptActivation(); }
  Bf16 bf16() const override { return Bf16::rounded; }

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  Parameter& weight() { return params_.weight; }
  Parameter& bias() { return params_.bias; }  // undefined value when built without bias

 private:
  int64_t in_features_, out_features_;
  WeightAndBias params_;
  KeptActivation input_;  // kept by a train-mode forward
};

}  // namespace i2v
