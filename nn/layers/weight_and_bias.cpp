#include "nn/layers/weight_and_bias.h"

#include "base/error.h"

namespace i2v {

WeightAndBias::WeightAndBias(const Shape& weight_shape, int64_t outputs, bool with_bias)
    : weight(make_parameter(weight_shape)) {
  if (with_bias) bias = make_parameter({outputs});
}

std::vector<std::pair<std::string, Parameter*>> WeightAndBias::named() {
  if (!has_bias()) return {{"weight", &weight}};
  return {{"weight", &weight}, {"bias", &bias}};
}

void WeightAndBias::check_matches(const Layer& layer, const Tensor& x) const {
  const Tensor& w = weight.value;
  I2V_CHECK(w.device() == x.device() && w.dtype() == x.dtype(), "{}: input on {} as {}, weights on {} as {}",
            layer.describe(), x.device().name(), dtype_name(x.dtype()), w.device().name(), dtype_name(w.dtype()));
}

}  // namespace i2v
