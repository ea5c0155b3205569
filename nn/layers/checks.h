// Checks every layer makes on its arguments, with messages that name the layer.
#pragma once

#include <cstddef>

#include "nn/layer.h"

namespace i2v {

// Throws unless `count` inputs were given to a layer that takes `expected`.
void check_input_count(const Layer& layer, size_t count, size_t expected);
// Throws unless a train-mode forward kept `saved` and grad_output matches its `expected` shape.
void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output);
void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output,
                          const Shape& expected);

}  // namespace i2v
