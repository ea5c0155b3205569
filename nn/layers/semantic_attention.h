// SemanticAttention: the GCN paper's semantic attention module (after ADD-GCN). From C category
// activation maps X [N, C, H, W] — class activation mapping: a 1×1 convolution of the backbone's
// feature map, usually through a sigmoid — and the feature map M [N, D, H, W] itself, the
// content-aware category representations
//
//   h_c = Σ_ij x^c_ij · m_ij          H [N, C, D]: one node per category,
//
// per image H_n = X_n · M_nᵀ with X_n [C, H·W] and M_n [D, H·W] (kernels/batched_gemm.h).
// Backward: dX_n = dH_n · M_n and dM_n = dH_nᵀ · X_n. Inputs: the maps first, the features second.
#pragma once

#include "nn/layer.h"

namespace i2v {

class SemanticAttention final : public Layer {
 public:
  std::string kind() const override { return "semantic_attention"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  int64_t forward_flops(const std::vector<Shape>& inputs) const override;
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override;
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override;
  void clear_saved() override {
    maps_ = Tensor();
    features_ = Tensor();
  }

 private:
  Tensor maps_, features_;  // kept by a train-mode forward
};

}  // namespace i2v
