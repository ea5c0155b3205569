#include "nn/init.h"

#include <cmath>

#include "base/error.h"

namespace i2v {

InitSpec InitSpec::parse(const std::string& text) {
  InitSpec spec;
  if (text == "he") {
    spec.kind = Kind::he;
  } else if (text == "xavier") {
    spec.kind = Kind::xavier;
  } else if (text.rfind("gaussian:", 0) == 0) {
    spec.kind = Kind::gaussian;
    try {
      spec.std = std::stod(text.substr(9));
    } catch (const std::exception&) {
      I2V_THROW("init '{}': the standard deviation is not a number", text);
    }
    I2V_CHECK(spec.std > 0, "init '{}': the standard deviation must be positive", text);
  } else {
    I2V_THROW("unknown init '{}': expected he, xavier or gaussian:STD", text);
  }
  return spec;
}

std::string InitSpec::str() const {
  switch (kind) {
    case Kind::he: return "he";
    case Kind::xavier: return "xavier";
    case Kind::gaussian: return fmt::format("gaussian:{}", std);
  }
  return "?";
}

void initialize_weight(Tensor& weight, const InitSpec& spec, Rng& rng) {
  I2V_CHECK(weight.dim() >= 2, "initialising a weight of shape {}: expected [out, in, ...]", shape_str(weight.shape()));
  const int64_t receptive = weight.numel() / (weight.size(0) * weight.size(1));
  const double fan_in = double(weight.size(1) * receptive), fan_out = double(weight.size(0) * receptive);
  std::vector<double> values(static_cast<size_t>(weight.numel()));
  switch (spec.kind) {
    case InitSpec::Kind::he: {
      const double std = std::sqrt(2.0 / fan_in);
      for (double& v : values) v = std * rng.normal();
      break;
    }
    case InitSpec::Kind::xavier: {
      const double bound = std::sqrt(6.0 / (fan_in + fan_out));
      for (double& v : values) v = bound * (2.0 * rng.uniform() - 1.0);
      break;
    }
    case InitSpec::Kind::gaussian:
      for (double& v : values) v = spec.std * rng.normal();
      break;
  }
  weight.copy_from(Tensor::from_vector(values, weight.shape()).cast(weight.dtype()).to(weight.device()));
}

}  // namespace i2v
