// NodeClassifier: one binary classifier per category node, s[n][c] = weight[c] · z[n][c] +
// bias[c], [N, C, D] → [N, C] — the GCN paper's per-category classifiers on the dynamic graph's
// output z_c (ADD-GCN's last_linear, of which only the diagonal is used). Parameters "weight"
// [C, D] and "bias" [C] (optional). Kernels: kernels/node_classifier.h.
#pragma once

#include "nn/layer.h"
#include "nn/layers/weight_and_bias.h"

namespace i2v {

class NodeClassifier final : public Layer {
 public:
  NodeClassifier(int64_t nodes, int64_t features, bool bias = true);

  std::string kind() const override { return "node_classifier"; }
  // "node_classifier 100 nodes x 512"
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return params_.named(); }
  void clear_saved() override { input_ = Tensor(); }

 private:
  int64_t nodes_, features_;
  WeightAndBias params_;
  Tensor input_;  // kept by a train-mode forward
};

}  // namespace i2v
