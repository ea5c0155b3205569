#include "train/sgd.h"

#include <optional>
#include <regex>

#include "base/error.h"
#include "kernels/sgd.h"

namespace i2v {

Sgd::Sgd(Model& model, SgdOptions options, const std::map<std::string, LayerRates>& rates)
    : options_(options), rates_(rates) {
  for (const auto& [layer, r] : rates_) {
    I2V_CHECK(model.has_node(layer), "learning-rate rule for '{}': the model has no such layer", layer);
    I2V_CHECK(r.lr_mult >= 0 && r.decay_mult >= 0, "layer {}: negative lr_mult or decay_mult", layer);
  }
  for (const ModelNode& node : model.nodes()) {
    const LayerRates& r = rates_of(node.name);
    for (auto& [name, p] : node.layer->parameters()) {
      p->requires_grad = r.lr_mult > 0;
      slots_.push_back(Slot{node.name + "." + name, p, r, Tensor()});
    }
  }
}

const LayerRates& Sgd::rates_of(const std::string& layer) const {
  static const LayerRates defaults;
  auto it = rates_.find(layer);
  return it == rates_.end() ? defaults : it->second;
}

double Sgd::step(double lr, double gradient_norm) {
  const double scale =
      options_.clip_norm > 0 && gradient_norm > options_.clip_norm ? options_.clip_norm / gradient_norm : 1.0;
  for (Slot& slot : slots_) {
    if (slot.rates.lr_mult == 0) continue;
    Tensor& w = slot.parameter->value;
    const Tensor& g = slot.parameter->grad;
    const bool first = !slot.velocity.defined();
    if (first && options_.momentum != 0) slot.velocity = Tensor::zeros(w.shape(), w.dtype(), w.device());
    I2V_DISPATCH_FLOATING(w.device(), w.dtype(), sgd_step, w.numel(), w.data<scalar_t>(), g.data<scalar_t>(),
                          slot.velocity.defined() ? slot.velocity.data<scalar_t>() : nullptr,
                          scalar_t(lr * slot.rates.lr_mult), scalar_t(options_.momentum),
                          scalar_t(options_.weight_decay * slot.rates.decay_mult), scalar_t(scale), first);
  }
  ++steps_;
  return scale;
}

std::map<std::string, Tensor> Sgd::state() const {
  std::map<std::string, Tensor> state;
  for (const Slot& slot : slots_)
    if (slot.velocity.defined()) state[slot.name + ".momentum"] = slot.velocity;
  return state;
}

void Sgd::load_state(const std::map<std::string, Tensor>& state, int64_t steps_taken) {
  for (Slot& slot : slots_) {
    auto it = state.find(slot.name + ".momentum");
    if (it == state.end()) {
      slot.velocity = Tensor();
      continue;
    }
    const Tensor& w = slot.parameter->value;
    I2V_CHECK(it->second.shape() == w.shape(), "optimizer state {}: shape {} for a parameter of shape {}", it->first,
              shape_str(it->second.shape()), shape_str(w.shape()));
    slot.velocity = it->second.cast(w.dtype()).to(w.device()).clone();
  }
  steps_ = steps_taken;
}

namespace {

// One rule of "optimizer.layers": the layers it names, and the multipliers it sets. A multiplier
// it does not set keeps what earlier rules gave, so the table has no defaults.
struct LayerRule {
  std::vector<std::string> layers;
  std::optional<std::string> pattern;
  std::optional<double> lr_mult, decay_mult;
};

const ConfigSection<LayerRule>& rule_fields() {
  static const ConfigSection<LayerRule> fields = {
      {"layers", nullptr, &LayerRule::layers},
      {"pattern", nullptr, &LayerRule::pattern},
      {"lr_mult", nullptr, &LayerRule::lr_mult},
      {"decay_mult", nullptr, &LayerRule::decay_mult},
  };
  return fields;
}

}  // namespace

std::vector<ConfigFieldInfo> layer_rule_fields() { return rule_fields().fields(); }

std::map<std::string, LayerRates> parse_layer_rates(const nlohmann::json& rules, const Model& model) {
  std::map<std::string, LayerRates> rates;
  I2V_CHECK(rules.is_array(), "layer rates: expected a list of rules, got {}", rules.dump());
  for (const nlohmann::json& given : rules) {
    I2V_CHECK(given.is_object(), "layer rate rule {}: expected an object", given.dump());
    LayerRule rule;
    rule_fields().read(given, "optimizer.layers[]", rule);
    std::vector<std::string> layers;
    for (const std::string& name : rule.layers) {
      I2V_CHECK(model.has_node(name), "layer rate rule {}: the model has no layer '{}'", given.dump(), name);
      layers.push_back(name);
    }
    if (rule.pattern) {
      std::regex pattern;
      try {
        pattern = std::regex(*rule.pattern);
      } catch (const std::exception& e) {
        I2V_THROW("layer rate rule {}: the pattern is not a regular expression ({})", given.dump(), e.what());
      }
      for (const ModelNode& node : model.nodes())
        if (std::regex_match(node.name, pattern)) layers.push_back(node.name);
    }
    I2V_CHECK(!layers.empty(), "layer rate rule {} names no layer of the model", given.dump());
    for (const std::string& layer : layers) {
      LayerRates& r = rates[layer];
      if (rule.lr_mult) r.lr_mult = *rule.lr_mult;
      if (rule.decay_mult) r.decay_mult = *rule.decay_mult;
    }
  }
  return rates;
}

}  // namespace i2v
