// An activation a layer keeps from a train-mode forward for its backward pass (Conv2d's and
// Linear's inputs, BatchNorm2d's input, an activation function's input or output).
//
// At bf16 (kernels/precision.h) a float32 activation is kept as bfloat16: half the bytes, as
// PyTorch's bf16 autocast keeps its activations (i2v-tag's training step at 224×224 batch 64
// peaks at 0.71× the memory of fp32's: bench/RESULTS.md). Where the backward pass reads it as the
// operand of a bf16 product (Conv2d's and Linear's weight gradients) nothing changes: the product
// rounds its operands to bf16 anyway. Elsewhere the gradient is computed from the rounded value
// (≤ 2⁻⁹ of it): a ReLU reads only its sign, BatchNorm2d's x − mean moves by ≤ 2⁻⁹ of x. At fp32
// and tf32, and in double, the tensor is kept as it is, and reading it copies nothing.
#pragma once

#include <functional>
#include <optional>

#include "nn/layers/checks.h"
#include "nn/tensor.h"

namespace i2v {

class KeptActivation {
 public:
  KeptActivation() = default;
  // Keeps the contiguous tensor x: as bf16 at bf16 precision when x is f32, else x itself.
  explicit KeptActivation(const Tensor& x);

  bool defined() const { return kept_.defined(); }
  // The shape, device and dtype of the tensor the forward pass had; unset when nothing is kept.
  const std::optional<TensorSignature>& signature() const { return signature_; }
  const Shape& shape() const { return signature_.value().shape; }

  // The activation in the forward pass's dtype (its values rounded to bf16 where kept so).
  Tensor whole() const;
  // Calls visit(begin, end, values) for consecutive ranges of the flattened activation, values
  // holding its elements [begin, end) in the forward pass's dtype. Kept as bf16 the ranges are
  // pieces of 4 Mi elements widened one at a time, so that an elementwise backward pass never
  // holds a whole f32 copy beside its dy and dx; kept as it is, one range: the tensor itself.
  void for_each_piece(const std::function<void(int64_t begin, int64_t end, const Tensor& values)>& visit) const;

 private:
  Tensor kept_;
  std::optional<TensorSignature> signature_;
};

}  // namespace i2v
