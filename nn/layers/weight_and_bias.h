// The trained tensors of Conv2d and Linear: a weight and an optional bias, and the check both
// make before using them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nn/layer.h"

namespace i2v {

struct WeightAndBias {
  Parameter weight, bias;  // bias.value is undefined when the layer has none

  // A zero weight of `weight_shape` and, when with_bias, a zero bias of `outputs` elements.
  WeightAndBias(const Shape& weight_shape, int64_t outputs, bool with_bias);

  bool has_bias() const { return bias.value.defined(); }
  // {"weight", &weight} and, with a bias, {"bias", &bias}: what Layer::parameters() returns.
  std::vector<std::pair<std::string, Parameter*>> named();
  // Throws unless the weight is on x's device as x's dtype (Layer::to() moves it).
  void check_matches(const Layer& layer, const Tensor& x) const;
};

}  // namespace i2v
