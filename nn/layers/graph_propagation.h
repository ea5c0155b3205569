// GraphPropagation: one step over the C category nodes of each image, Y_n = A · X_n, where X_n
// [C, D] holds one row of features per node — the "A_s H" and "A_d V" of the GCN paper (its
// state update W is a Linear over the node features, and LeakyReLU(0.2) a layer, after this).
//
//   static_graph   A is the layer's parameter "weight" [C, C], learned and shared by every
//                  image (ADD-GCN's static_adj); one input, X [N, C, D].
//   dynamic_graph  A_n is the first input [N, C, C], one per image (the paper's
//                  A_d = sigmoid(W_A V'): a Linear over V''s node features and a sigmoid);
//                  X [N, C, D] is the second.
//
// Backward: dX_n = A_nᵀ · dY_n; dA_n = dY_n · X_nᵀ — summed over the batch into the static
// weight's gradient as one GEMM over [C, N·D] copies of dY and X. Products by
// kernels/batched_gemm.h.
#pragma once

#include <memory>

#include "nn/layer.h"

namespace i2v {

class GraphPropagation final : public Layer {
 public:
  // static_graph over `nodes` nodes: a learned adjacency (zeros until initialised).
  static std::unique_ptr<GraphPropagation> learned(int64_t nodes);
  // dynamic_graph: the adjacency is the first input.
  static std::unique_ptr<GraphPropagation> from_input();

  std::string kind() const override { return learned_ ? "static_graph" : "dynamic_graph"; }
  // "static_graph 100 nodes", "dynamic_graph"
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  std::vector<std::pair<std::string, Parameter*>> parameters() override;
  void clear_saved() override {
    adjacency_ = Tensor();
    features_ = Tensor();
  }

 private:
  explicit GraphPropagation(int64_t nodes);

  bool learned_;
  Parameter weight_;     // static_graph: [C, C]
  Tensor adjacency_;     // kept by a train-mode forward: [C, C] (static) or [N, C, C]
  Tensor features_;      // kept by a train-mode forward: X
};

}  // namespace i2v
