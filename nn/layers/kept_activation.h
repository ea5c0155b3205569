// An activation a layer keeps from a train-mode forward for its backward pass (Conv2d's and
// Linear's inputs, BatchNorm2d's input, an activation function's input or output).
//
// At bf16 (kernels/precision.h) a float32 activation is kept as bfloat16: half the bytes, as
// PyTorch's bf16 autocast keeps its activations; one that comes in bf16 (passed between layers so)
// is kept as it is, so that a ReLU keeping its output and the convolution reading it share one
// tensor, as autocast's saved tensors do. Where the backward pass reads it as the operand of a bf16 product (Conv2d's
// and Linear's weight gradients) nothing changes: the product rounds its operands to bf16 anyway.
// Elsewhere the gradient is computed from the rounded value (≤ 2⁻⁹ of it): a ReLU reads only its
// sign, BatchNorm2d's x − mean moves by ≤ 2⁻⁹ of x. At fp32 and tf32, and in double, the tensor is
// kept as it is, and reading it copies nothing.
#pragma once

#include <functional>
#include <optional>

#include "nn/layers/checks.h"
#include "nn/tensor.h"

namespace i2v {

class KeptActivation {
 public:
  KeptActivation() = default;
  // Keeps the contiguous tensor x: as bf16 at bf16 precision when x is f32, else x itself (a bf16
  // x, an activation passed between layers in bf16, is kept as it is).
  explicit KeptActivation(const Tensor& x);

  bool defined() const { return kept_.defined(); }
  // The shape, device and dtype of the tensor the forward pass had; unset when nothing is kept.
  const std::optional<TensorSignature>& signature() const { return signature_; }
  const Shape& shape() const { return signature_.value().shape; }
  // The signature whole() has: the forward pass's, bf16 as f32. A layer that computes a bf16
  // input in f32 (Layer::Bf16::rounded) checks its output gradient against it.
  std::optional<TensorSignature> whole_signature() const;

  // The activation in the dtype backward passes compute in: the forward pass's, f32 where it is
  // kept as bf16 (its values rounded to bf16).
  Tensor whole() const;
  // The tensor as it is kept: bf16 where it is kept so, else whole() itself. For kernels that
  // read bf16 elements themselves (kernels/activation.h).
  const Tensor& stored() const;
  // Its samples [begin, end) (along the first axis), as whole() has them.
  Tensor samples(int64_t begin, int64_t end) const;
  // Calls visit(begin, end, values) for consecutive ranges of the flattened activation, values
  // holding its elements [begin, end) in the dtype whole() has. Kept as bf16 the ranges are
  // pieces (for_each_piece below) widened one at a time, so that an elementwise backward pass
  // never holds a whole f32 copy beside its dy and dx; else one range: the tensor itself.
  void for_each_piece(const std::function<void(int64_t begin, int64_t end, const Tensor& values)>& visit) const;

 private:
  Tensor kept_;
  std::optional<TensorSignature> signature_;
};

// bf16 activations a piece at a time, where kernels read f32 only: Conv2d's (a piece of images
// as large as its workspace budget, nn/layers/conv2d.h), and an elementwise backward pass whose
// f32 gradient meets an activation kept as bf16 (KeptActivation::for_each_piece). Each piece is
// widened, computed in f32 and its result rounded, so that no whole f32 copy of a large
// activation exists. (The activations' and max pooling's kernels read and write bf16 themselves:
// kernels/activation.h, kernels/pool.h.)
// Elements in a piece on `device`: on a cpu 1 Mi (4 MiB of f32, mostly in cache between a
// piece's passes); on a GPU 4 Mi (16 MiB: each of a piece's kernel launches moves enough bytes
// to hide its cost).
int64_t piece_elements(Device device);
// Calls visit(begin, end) for consecutive ranges covering [0, units), units of `unit_size`
// elements (1, or a convolution's images), each range as many units as
// `piece` elements hold (piece_elements(device), or a convolution's own), and at least one.
void for_each_piece(int64_t piece, int64_t units, int64_t unit_size,
                    const std::function<void(int64_t begin, int64_t end)>& visit);
// x widened to f32 when it is bf16; else x itself.
Tensor widened(const Tensor& x);

}  // namespace i2v
