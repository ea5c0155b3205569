// Stochastic gradient descent with momentum and weight decay (PyTorch's torch.optim.SGD
// semantics, kernels/sgd.h), with per-layer multipliers of the learning rate and the weight
// decay — Caffe's lr_mult/decay_mult, darknet's per-layer learning_rate. A layer whose learning
// rate multiplier is 0 is frozen: its parameters get no update and no gradient work.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/config_fields.h"
#include "nn/model.h"

namespace i2v {

struct SgdOptions {
  double momentum = 0.9;
  double weight_decay = 0.0;
  // When the gradients' global L2 norm exceeds this, they are scaled down to it before the step
  // (0: never). Keeps a network without normalisation layers from blowing up early in training.
  double clip_norm = 0.0;
};

struct LayerRates {
  double lr_mult = 1.0;
  double decay_mult = 1.0;
};

class Sgd {
 public:
  // `rates` by layer name; layers not named use multipliers 1. Sets requires_grad of every
  // parameter (false where lr_mult is 0).
  Sgd(Model& model, SgdOptions options, const std::map<std::string, LayerRates>& rates = {});

  // One update of every trainable parameter with learning rate lr · lr_mult; `gradient_norm` is
  // the gradients' global L2 norm, for clipping. Returns the factor the gradients were scaled by.
  double step(double lr, double gradient_norm = 0.0);
  int64_t steps_taken() const { return steps_; }
  const LayerRates& rates_of(const std::string& layer) const;

  // Momentum buffers ("<parameter>.momentum") for checkpoints, and back.
  std::map<std::string, Tensor> state() const;
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps_taken);

 private:
  struct Slot {
    std::string name;
    Parameter* parameter;
    LayerRates rates;
    Tensor velocity;  // undefined until the first step (and always without momentum)
  };
  SgdOptions options_;
  std::map<std::string, LayerRates> rates_;
  std::vector<Slot> slots_;
  int64_t steps_ = 0;
};

// Reads {"layers": ["conv1", ...] or "pattern": "regex", "lr_mult": m, "decay_mult": d} rules
// (later rules win) into per-layer rates for `model`; throws naming a rule that matches nothing.
std::map<std::string, LayerRates> parse_layer_rates(const nlohmann::json& rules, const Model& model);
// The fields of a rule, as docs/training.md lists them.
std::vector<ConfigFieldInfo> layer_rule_fields();

}  // namespace i2v
