// Initial values of weights (biases start at zero).
//   he        — Kaiming He's normal: N(0, 2 / fan_in), for layers followed by ReLU (the default);
//   xavier    — Glorot's uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out));
//   gaussian  — N(0, std²) with a given std (Caffe's "gaussian" filler).
// fan_in = in_channels · kh · kw for a conv weight [out, in, kh, kw], in_features for a linear
// weight [out, in]; fan_out likewise with out.
#pragma once

#include <string>

#include "base/random.h"
#include "nn/tensor.h"

namespace i2v {

struct InitSpec {
  enum class Kind { he, xavier, gaussian };
  Kind kind = Kind::he;
  double std = 0.01;  // for gaussian

  // "he", "xavier" or "gaussian:0.01".
  static InitSpec parse(const std::string& text);
  std::string str() const;
};

// Fills a weight of shape [out, in, ...] (cpu, f32 or f64) with draws from `rng`.
void initialize_weight(Tensor& weight, const InitSpec& spec, Rng& rng);

}  // namespace i2v
