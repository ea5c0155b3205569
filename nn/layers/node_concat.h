// NodeConcat: appends one vector per image to the features of each of its nodes,
//   V [N, C, D] and v [N, E]  →  V' = [V, v repeated on the C rows]  [N, C, D + E]
// — the GCN paper's V' = [V, V_cap]: the caption feature v_cap (an auxiliary model input) joined
// to the static graph's output, from which the dynamic adjacency is computed. Backward: dV is
// the first D columns of dV', dv[n] the sum over the nodes of the last E (kernels/node_concat.h).
#pragma once

#include <optional>

#include "nn/layer.h"
#include "nn/layers/checks.h"

namespace i2v {

class NodeConcat final : public Layer {
 public:
  std::string kind() const override { return "node_concat"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override { output_.reset(); }

 private:
  // Kept by a train-mode forward: the output's signature and D, the node features' width.
  std::optional<TensorSignature> output_;
  int64_t node_width_ = 0;
};

}  // namespace i2v
