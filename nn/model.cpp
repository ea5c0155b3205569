#include "nn/model.h"

#include <algorithm>
#include <set>

#include "kernels/axpy.h"
#include "kernels/precision.h"
#include "kernels/trace.h"
#include "base/error.h"
#include "base/random.h"
#include "base/text.h"
#include "nn/layers/kept_activation.h"

namespace i2v {

Model::Model(std::string name, Shape input_shape) : name_(std::move(name)), input_shape_(std::move(input_shape)) {}

size_t Model::index_of(const std::string& name) const {
  auto it = index_.find(name);
  I2V_CHECK(it != index_.end(), "model {} has no layer '{}'", name_, name);
  return it->second;
}

bool Model::has_node(const std::string& name) const { return index_.count(name) > 0; }

bool Model::is_model_input(const std::string& source) const {
  return source == kInput || auxiliary_inputs_.count(source) > 0;
}

void Model::add_auxiliary_input(const std::string& name, Shape shape) {
  I2V_CHECK(!name.empty() && name != kInput && !has_node(name) && !auxiliary_inputs_.count(name),
            "model {}: '{}' cannot name an auxiliary input (taken or reserved)", name_, name);
  I2V_CHECK(!shape.empty() && shape_numel(shape) > 0, "model {}: auxiliary input '{}' of shape {}", name_, name,
            shape_str(shape));
  auxiliary_inputs_[name] = std::move(shape);
}

Layer& Model::layer(const std::string& name) { return *nodes_[index_of(name)].layer; }

std::vector<Shape> Model::input_shapes(const ModelNode& node, const std::vector<Shape>& outputs) const {
  std::vector<Shape> shapes;
  for (const std::string& input : node.inputs) {
    if (is_model_input(input)) {
      Shape shape = input == kInput ? input_shape_ : auxiliary_inputs_.at(input);
      shape.insert(shape.begin(), 1);
      shapes.push_back(shape);
    } else {
      shapes.push_back(outputs[index_of(input)]);
    }
  }
  return shapes;
}

Layer& Model::add(const std::string& name, std::unique_ptr<Layer> layer, std::vector<std::string> inputs,
                  InitSpec init) {
  I2V_CHECK(!name.empty() && name != kInput && !auxiliary_inputs_.count(name), "model {}: '{}' cannot name a layer",
            name_, name);
  I2V_CHECK(!has_node(name), "model {}: two layers named '{}'", name_, name);
  if (inputs.empty()) inputs.push_back(nodes_.empty() ? kInput : nodes_.back().name);
  for (const std::string& input : inputs)
    I2V_CHECK(is_model_input(input) || has_node(input), "model {}: layer '{}' reads '{}', which is not an earlier layer",
              name_, name, input);
  nodes_.push_back(ModelNode{name, std::move(layer), std::move(inputs), init});
  index_[name] = nodes_.size() - 1;
  try {
    summary(1);  // checks that the new layer accepts its inputs' shapes
  } catch (const Error& e) {
    index_.erase(name);
    nodes_.pop_back();
    I2V_THROW("model {}: layer '{}': {}", name_, name, e.message());
  }
  nodes_.back().layer->to(device_);
  return *nodes_.back().layer;
}

Tensor Model::forward(const Tensor& input, Mode mode, const std::string& until) { return forward(input, {}, mode, until); }

Tensor Model::forward(const Tensor& input, const std::map<std::string, Tensor>& auxiliary, Mode mode,
                      const std::string& until, const LayerObserver& observe) {
  I2V_CHECK(!nodes_.empty(), "model {} has no layers", name_);
  const int64_t batch = input.dim() > 0 ? input.size(0) : 0;
  auto check_shape = [&](const std::string& what, const Tensor& tensor, Shape expected) {
    expected.insert(expected.begin(), batch);
    I2V_CHECK(tensor.shape() == expected, "model {} expects {} of shape {}, got {}", name_, what,
              shape_str(expected), shape_str(tensor.shape()));
  };
  check_shape("a batch of inputs", input, input_shape_);
  for (const auto& [name, shape] : auxiliary_inputs_) {
    auto it = auxiliary.find(name);
    I2V_CHECK(it != auxiliary.end(), "model {} reads the auxiliary input '{}', which was not given", name_, name);
    check_shape("auxiliary input '" + name + "'", it->second, shape);
  }
  auto model_input = [&](const std::string& source) { return source == kInput ? input : auxiliary.at(source); };
  const size_t end = until.empty() ? nodes_.size() : index_of(until) + 1;
  // A layer's output is kept until its last reader has run.
  std::vector<size_t> last_reader(end, 0);
  for (size_t i = 0; i < end; ++i)
    for (const std::string& source : nodes_[i].inputs)
      if (!is_model_input(source)) last_reader[index_of(source)] = i;
  std::vector<Tensor> outputs(end);
  output_dtypes_.assign(end, DType::f32);
  const bool at_bf16 = matmul_precision() == Precision::bf16;
  for (size_t i = 0; i < end; ++i) {
    // At bf16 precision activations pass between layers in bf16, as each layer's bf16() says
    // (nn/layer.h); what the model hands out is never bf16.
    const Layer::Bf16 bf16 = nodes_[i].layer->bf16();
    std::vector<Tensor> inputs;
    for (const std::string& source : nodes_[i].inputs) {
      const Tensor& x = is_model_input(source) ? model_input(source) : outputs[index_of(source)];
      if (bf16 == Layer::Bf16::widened)
        inputs.push_back(widened(x));
      else if (bf16 == Layer::Bf16::rounded)
        inputs.push_back(x);
      else
        inputs.push_back(at_bf16 && x.dtype() == DType::f32 ? x.cast(DType::bf16) : x);
    }
    // Outputs read for the last time go now: a bf16 one widened for this layer is not needed.
    for (const std::string& source : nodes_[i].inputs)
      if (!is_model_input(source) && last_reader[index_of(source)] == i) outputs[index_of(source)] = Tensor();
    {
      const trace::Span span(trace::Kind::layer, nodes_[i].name, ".forward", input.device());
      outputs[i] = nodes_[i].layer->forward(inputs, mode);
      if (bf16 == Layer::Bf16::rounded && outputs[i].dtype() == DType::f32 && at_bf16)
        outputs[i] = outputs[i].cast(DType::bf16);
    }
    output_dtypes_[i] = outputs[i].dtype();
    if (observe) observe(nodes_[i].name, outputs[i]);
  }
  last_forward_end_ = mode == Mode::train ? end : 0;
  return widened(outputs[end - 1]);
}

Tensor Model::backward(const Tensor& grad_output, bool need_input_grad,
                       const std::function<void(const std::string& layer)>& after_layer) {
  I2V_CHECK(last_forward_end_ > 0, "model {}: backward() without a train-mode forward()", name_);
  const size_t end = last_forward_end_;
  // A layer needs a gradient if it, or anything it reads from, has something to train. The
  // auxiliary inputs are data: they need none.
  std::vector<bool> needs_grad(end, false);
  auto source_needs_grad = [&](const std::string& source) {
    if (is_model_input(source)) return source == kInput && need_input_grad;
    return bool(needs_grad[index_of(source)]);
  };
  for (size_t i = 0; i < end; ++i) {
    for (auto& [param_name, p] : nodes_[i].layer->parameters()) needs_grad[i] = needs_grad[i] || p->requires_grad;
    for (const std::string& source : nodes_[i].inputs) needs_grad[i] = needs_grad[i] || source_needs_grad(source);
  }
  // A gradient has its tensor's dtype: bf16 where the forward passed the tensor on so, f32 where
  // a layer read it rounded (a passed layer at bf16: the rounding's gradient is the identity).
  auto in_dtype = [](const Tensor& g, DType dtype) {
    if (dtype == DType::bf16 && g.dtype() == DType::f32) return g.cast(DType::bf16);
    return dtype == DType::f32 ? widened(g) : g;
  };
  std::vector<Tensor> grads(end);
  Tensor input_grad;
  grads[end - 1] = in_dtype(grad_output, output_dtypes_[end - 1]);
  // Adds `g` into `sum` (the gradient of an output read by several layers), in f32 for bf16.
  auto accumulate = [](Tensor& sum, const Tensor& g) {
    if (!sum.defined()) {
      sum = g;
      return;
    }
    const DType dtype = sum.dtype();
    Tensor total = dtype == DType::bf16 ? sum.cast(DType::f32) : sum.clone();
    const Tensor addend = widened(g).contiguous();
    I2V_DISPATCH_FLOATING(total.device(), total.dtype(), axpy, total.numel(), scalar_t(1), addend.data<scalar_t>(),
                          total.data<scalar_t>());
    sum = total.cast(dtype);
  };
  // What each layer kept for its backward pass is released once the pass is past it (as PyTorch
  // frees a graph's saved tensors), so a step's memory falls as its backward pass goes on.
  for (size_t i = end; i-- > 0;) {
    const ModelNode& node = nodes_[i];
    if (!grads[i].defined() || !needs_grad[i]) {
      node.layer->clear_saved();
      continue;
    }
    std::vector<bool> need;
    for (const std::string& source : node.inputs) need.push_back(source_needs_grad(source));
    std::vector<Tensor> input_grads;
    {
      // Handed over (a bf16 gradient widened for the layer is not needed during its call).
      Tensor dy = std::move(grads[i]);
      grads[i] = Tensor();
      if (node.layer->bf16() != Layer::Bf16::passed) dy = widened(dy);
      const trace::Span span(trace::Kind::layer, node.name, ".backward", grad_output.device());
      input_grads = node.layer->backward(dy, need);
    }
    node.layer->clear_saved();
    if (after_layer) after_layer(node.name);
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      if (!need[k]) continue;
      if (is_model_input(node.inputs[k])) {
        accumulate(input_grad, widened(input_grads[k]));
      } else {
        const size_t source = index_of(node.inputs[k]);
        accumulate(grads[source], in_dtype(input_grads[k], output_dtypes_[source]));
      }
    }
  }
  last_forward_end_ = 0;
  return input_grad;
}

std::vector<std::pair<std::string, Parameter*>> Model::parameters() {
  std::vector<std::pair<std::string, Parameter*>> all;
  for (ModelNode& node : nodes_)
    for (auto& [name, p] : node.layer->parameters()) all.emplace_back(node.name + "." + name, p);
  return all;
}

std::vector<std::pair<std::string, Tensor*>> Model::buffers() {
  std::vector<std::pair<std::string, Tensor*>> all;
  for (ModelNode& node : nodes_)
    for (auto& [name, t] : node.layer->buffers()) all.emplace_back(node.name + "." + name, t);
  return all;
}

std::map<std::string, Tensor> Model::state_dict() {
  std::map<std::string, Tensor> state;
  for (auto& [name, p] : parameters()) state[name] = p->value;
  for (auto& [name, t] : buffers()) state[name] = *t;
  return state;
}

void Model::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::vector<std::pair<std::string, Tensor*>> targets;
  for (auto& [name, p] : parameters()) targets.emplace_back(name, &p->value);
  for (auto& [name, t] : buffers()) targets.emplace_back(name, t);
  const std::set<std::string> optional = optional_buffers();
  std::vector<std::string> missing, mis_shaped, unexpected;
  std::set<std::string> known;
  for (auto& [name, target] : targets) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      if (!optional.count(name)) missing.push_back(name);
    } else if (it->second.shape() != target->shape()) {
      mis_shaped.push_back(fmt::format("{} (file {}, model {})", name, shape_str(it->second.shape()),
                                       shape_str(target->shape())));
    }
  }
  for (auto& [name, tensor] : state)
    if (!known.count(name)) unexpected.push_back(name);
  constexpr size_t kMostNames = 12;
  std::string problems;
  if (!mis_shaped.empty()) problems += "mis-shaped: " + join(mis_shaped, ", ", kMostNames) + "; ";
  if (strict && !missing.empty()) problems += "missing: " + join(missing, ", ", kMostNames) + "; ";
  if (strict && !unexpected.empty()) problems += "unexpected: " + join(unexpected, ", ", kMostNames) + "; ";
  I2V_CHECK(problems.empty(), "weights do not fit model {}: {}", name_, problems.substr(0, problems.size() - 2));
  for (auto& [name, target] : targets) {
    auto it = state.find(name);
    if (it != state.end()) target->copy_from(it->second.cast(target->dtype()).to(target->device()));
    else if (strict && optional.count(name)) target->fill_(0.0);
  }
}

std::set<std::string> Model::optional_buffers() const {
  std::set<std::string> names;
  for (const ModelNode& node : nodes_)
    for (const std::string& name : node.layer->optional_buffers()) names.insert(node.name + "." + name);
  return names;
}

std::map<std::string, std::vector<uint64_t>> Model::random_states() const {
  std::map<std::string, std::vector<uint64_t>> states;
  for (const ModelNode& node : nodes_) {
    std::vector<uint64_t> state = node.layer->random_state();
    if (!state.empty()) states[node.name] = std::move(state);
  }
  return states;
}

void Model::set_random_states(const std::map<std::string, std::vector<uint64_t>>& states) {
  for (const auto& [name, state] : states) nodes_[index_of(name)].layer->set_random_state(state);
}

void Model::seed_random_layers(uint64_t seed) {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].layer->random_state().empty()) nodes_[i].layer->set_random_state({mix_seed(seed, i), 0});
}

void Model::to(Device device, DType dtype) {
  for (ModelNode& node : nodes_) node.layer->to(device, dtype);
  device_ = device;
}

void Model::zero_grad() {
  for (ModelNode& node : nodes_) node.layer->zero_grad();
}

namespace {

void initialize_node(ModelNode& node, Rng& rng) {
  for (auto& [name, p] : node.layer->parameters()) {
    if (name == "weight" && node.layer->kind() == "batch_norm2d") {
      p->value.fill_(1.0);
    } else if (name == "weight") {
      initialize_weight(p->value, node.init, rng);
    } else {
      p->value.fill_(0.0);
    }
  }
  for (auto& [name, buffer] : node.layer->buffers()) buffer->fill_(name == "running_var" ? 1.0 : 0.0);
}

}  // namespace

void Model::initialize(uint64_t seed) {
  Rng rng(seed);
  for (ModelNode& node : nodes_) initialize_node(node, rng);
}

void Model::initialize_layers(const std::vector<std::string>& names, uint64_t seed) {
  Rng rng(seed);
  for (const std::string& name : names) initialize_node(nodes_[index_of(name)], rng);
}

std::vector<LayerSummary> Model::summary(int64_t batch) const {
  std::vector<LayerSummary> rows;
  std::vector<Shape> outputs;
  for (const ModelNode& node : nodes_) {
    std::vector<Shape> inputs = input_shapes(node, outputs);
    for (Shape& shape : inputs)
      if (!shape.empty()) shape[0] = batch;
    LayerSummary row;
    row.name = node.name;
    row.description = node.layer->describe();
    row.output_shape = node.layer->output_shape(inputs);
    for (auto& [name, p] : node.layer->parameters()) row.parameters += p->value.numel();
    row.flops = node.layer->forward_flops(inputs);
    row.activation_bytes = shape_numel(row.output_shape) * 4;
    outputs.push_back(row.output_shape);
    rows.push_back(row);
  }
  return rows;
}

int64_t Model::parameter_count() const {
  int64_t total = 0;
  for (const LayerSummary& row : summary(1)) total += row.parameters;
  return total;
}


std::string Model::summary_table(int64_t batch) const {
  const std::vector<LayerSummary> rows = summary(batch);
  std::string text = fmt::format("model {}: a batch of {} inputs of shape {}\n", name_, batch, shape_str(input_shape_));
  text += fmt::format("{:<14} {:<34} {:<22} {:>12} {:>12} {:>12}\n", "layer", "kind", "output", "params", "FLOPs",
                      "activations");
  int64_t params = 0, flops = 0, activations = 0;
  for (const LayerSummary& row : rows) {
    text += fmt::format("{:<14} {:<34} {:<22} {:>12} {:>12} {:>12}\n", row.name, row.description,
                        shape_str(row.output_shape), format_count(row.parameters), format_si(double(row.flops), "F"),
                        format_si(double(row.activation_bytes), "B"));
    params += row.parameters;
    flops += row.flops;
    activations += row.activation_bytes;
  }
  text += fmt::format("total: {} parameters ({}), {} per forward pass, {} of layer outputs "
                      "(a training step keeps about all of them for backward, in bf16 at half the bytes)\n",
                      format_count(params), format_si(double(params) * 4, "B"), format_si(double(flops), "FLOP"),
                      format_si(double(activations), "B"));
  return text;
}

std::string bf16_widening_note(const std::map<std::string, Tensor>& tensors, const std::string& source) {
  int64_t bf16 = 0, parameters = 0;
  for (const auto& [name, tensor] : tensors) {
    if (tensor.dtype() != DType::bf16) continue;
    ++bf16;
    parameters += tensor.numel();
  }
  if (bf16 == 0) return "";
  return fmt::format("note: {} holds {} bf16 tensors ({} values), widened exactly to the model's f32 parameters",
                     source, bf16, format_count(parameters));
}

}  // namespace i2v
