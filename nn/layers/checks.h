// Checks every layer makes on its arguments, with messages that name the layer.
#pragma once

#include <cstddef>
#include <optional>

#include "nn/layer.h"

namespace i2v {

// Throws unless `count` inputs were given to a layer that takes `expected`.
void check_input_count(const Layer& layer, size_t count, size_t expected);
// Throws unless a train-mode forward kept `saved` and grad_output matches its `expected` shape.
void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output);
void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output,
                          const Shape& expected);

// A tensor's shape, device and dtype: what a layer that keeps no tensor like its output (pooling
// keeps indices, dropout a key) remembers of a train-mode forward's output.
struct TensorSignature {
  Shape shape;
  Device device;
  DType dtype = DType::f32;
  static TensorSignature of(const Tensor& t) { return {t.shape(), t.device(), t.dtype()}; }
};
// Throws unless a train-mode forward ran (`output` is set) and grad_output matches it.
void check_backward_ready(const Layer& layer, const std::optional<TensorSignature>& output, const Tensor& grad_output);
// The same for a layer that kept a tensor like `saved` (its device and dtype) whose output has
// the `expected` shape.
void check_backward_ready(const Layer& layer, std::optional<TensorSignature> saved, const Tensor& grad_output,
                          const Shape& expected);
// Throws unless `shape` has `rank` dimensions; `layout` names them in the message ("NCHW").
void check_rank(const Layer& layer, const Shape& shape, int rank, const char* layout);

}  // namespace i2v
