// Every zoo model (nn/model_zoo.h) on the GPU-like devices (sim, and cuda when present), in fp32
// and tf32, and every layer type in bf16 on those and the cpu (kernels/precision.h), against the
// same weights in float64 on the cpu — not against the cpu's fp32: where a quantity is
// ill-conditioned, fp32 on any device is as far from the truth as the device is, and two fp32
// results that disagree do not say which one is wrong. Errors are normwise,
// ‖device − float64‖ / ‖float64‖ per tensor (tests/layer_check.h).
//
//   EveryLayerAgreesWithFloat64   each layer computes from the float64 run's own inputs and
//                                 output gradient (RecordingLayer's forced mode), so that its
//                                 error is its own and not the sum of the layers' before it:
//                                 outputs, input gradients, the output gradients the model sums
//                                 over a layer's readers, parameter gradients, BatchNorm buffers.
//   WholeModelAgreesWithFloat64   the device runs the model alone, errors adding up through the
//                                 layers: loss, logits, parameter gradients, BatchNorm buffers.
//   TrainingOnDevices             three SGD steps of i2v-tag against float64, and two device runs
//                                 of them bit for bit (no float atomics).
//
// Bounds: fp32 1e-5 per layer and 2e-5 end to end; tf32 5e-3 per layer (one TF32 product:
// operands rounded to 11 significant bits) and 2e-2 end to end; bf16 4e-2 per layer (8 bits).
// Worst measured on sim over several runs: fp32 2.3e-6 per layer, 6e-6 end to end for most seeds
// and 1.52e-5 for one (resnet101-gcn's gcn.dynamic_adj.bias gradient, a sum over the nodes whose
// terms cancel, I2V_TEST_SEED=748682535); tf32 1.8e-3 per layer, 2-8e-3 end to end for most seeds
// (ResNet-101, a hundred layers of rounding) and 1.05e-2 for one (resnet101-gcn's
// gcn.dynamic_adj.weight gradient, I2V_TEST_SEED=4002053879: the GCN head's products add their
// rounding to the trunk's); the same for three training steps: 8e-7 and 1.3e-3. A kernel that is
// wrong, not rounded, is off by 0.1 or more.
//
// What is compared, and on which inputs, is chosen so that every compared quantity is
// well-conditioned: then the bounds can be tight and a wrong kernel cannot hide in rounding.
//  - ReLU, leaky ReLU and max-pooling branch: a pre-activation within rounding of 0, or two
//    window values within rounding of each other, go one way on the device and the other in
//    float64, and a whole gradient entry goes elsewhere. Through a whole network at tf32 (forward
//    error ~1e-3) that moves the first layers' gradients by 1e-2 to 1 (measured; cli_test saw
//    13%), at fp32 rarely but then by ~1e-2. No input size or batch avoids it (the fraction of
//    near-ties does not shrink), so the end-to-end float64 run follows the device's branches
//    (RecordingLayer's aligned mode): where a ReLU's or a max-pool's choice differs, its float64
//    input takes the device's values of just those elements — a move within the device's own
//    rounding — and the gradients then differ by rounding only. The branch followed is the one
//    the float64 layer takes on the device's input, never the device layer's own choice, so a
//    wrong kernel is not followed. (Each layer alone, in forced mode, sees no such ties.)
//  - ResNets at their standard initialisation (every BatchNorm γ = 1) are chaotic in training
//    mode: a relative perturbation grows ~7% per layer through ResNet-50 (measured at inputs of
//    32 to 128 pixels, batches 2 to 8, widths 1/16 and 1/8), so fp32 rounding alone moves its
//    logits by ~5e-5 and tf32 by 2-9e-2, on the cpu as on the device. The γ of each residual
//    branch's last BatchNorm is scaled by 0.1 — the near-identity start of zero_init_residual
//    (Goyal et al.; torchvision offers it) — and the logits move by ~1e-6 (fp32), ~1e-3 (tf32).
//  - A BatchNorm's β and γ gradients, Σ dy and Σ dy·x̂ per channel, nearly cancel in a ResNet
//    by construction: what a BatchNorm feeds reaches the loss through convolutions each followed
//    by a BatchNorm, whose backward removes the per-channel mean, and a convolution's transpose
//    keeps a zero mean (up to the borders), so the sums are what the ReLUs between drop: of the
//    order √m of m terms (m = N·H·W), and Σ|dy| / |Σ dy| grows like √m — larger inputs or
//    batches make it worse (measured 50 to 660 for the stem's bn1 at 64 pixels). An fp32 sum (the
//    GPU's tree, kernels/reduce.cuh) is off by ~u·Σ|terms|, up to 3e-5 of the sum per layer, and
//    end to end tf32 errors of 1e-3 in dy become 2e-2. So these two gradients' errors are
//    measured against Σ|terms| per channel (batch_norm_sum_scales), the scale of the sum's own
//    rounding; every other tensor against itself. (A wrong β or γ gradient still fails: a channel
//    left out measured 0.1-0.3; its input gradient, which uses both sums, is checked normwise.)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "kernels/precision.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/model_config.h"
#include "nn/model_zoo.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"
#include "train/sgd.h"

namespace i2v {
// How GoogleTest prints a Precision parameter.
inline void PrintTo(Precision precision, std::ostream* os) { *os << precision_name(precision); }

namespace {

struct Bounds {
  double per_layer, end_to_end;
};
// bf16: per layer only (EveryLayerInBf16AgreesWithFloat64), 8× tf32's bound, bf16 keeping 3
// fewer bits; end to end its rounding through a hundred layers is of the order of a wrong
// kernel's error, so no bound there tells them apart.
Bounds bounds(Precision precision) {
  switch (precision) {
    case Precision::fp32: return {1e-5, 2e-5};
    case Precision::tf32: return {5e-3, 2e-2};
    case Precision::bf16: return {4e-2, std::numeric_limits<double>::quiet_NaN()};
  }
  return {};
}

// ---- recording a model's layers ---------------------------------------------------------------

// What one layer of a model saw and gave in one forward and backward pass.
struct LayerTrace {
  std::vector<Tensor> inputs;
  Tensor output;
  Tensor handed_grad_output;        // the output gradient the model handed the layer
  Tensor grad_output;               // the one it used (the forced one, in forced mode)
  std::vector<Tensor> grad_inputs;  // undefined where the model asked for none
  int64_t aligned_elements = 0;     // aligned mode: inputs moved onto the device's branch
};

// The layers whose gradient jumps where their input crosses a kink (0) or a tie.
bool has_branches(const Layer& layer) {
  const std::string kind = layer.kind();
  return kind == "relu" || kind == "leaky_relu" || kind == "max_pool2d" || kind == "global_max_pool";
}

// Runs `inner` (a layer of another model, which outlives this one) and records its trace.
//   forced:  `inner` computes from `other`'s inputs and output gradient instead of the ones it is
//            handed (converted to their device and dtype);
//   aligned: (a float64 model following a device's run in `other`) a layer with branches takes,
//            where the device went the other way, the device's values of those elements.
class RecordingLayer final : public Layer {
 public:
  enum class Role { record, forced, aligned };
  RecordingLayer(Layer& inner, LayerTrace& trace, Role role, const LayerTrace* other)
      : inner_(inner), trace_(trace), role_(role), other_(other) {}
  std::string kind() const override { return inner_.kind(); }
  std::string describe() const override { return inner_.describe(); }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inner_.output_shape(inputs); }
  int64_t forward_flops(const std::vector<Shape>& inputs) const override { return inner_.forward_flops(inputs); }

  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override {
    trace_.inputs = inputs;
    trace_.aligned_elements = 0;
    if (role_ == Role::forced)
      for (size_t i = 0; i < inputs.size(); ++i)
        trace_.inputs[i] = other_->inputs.at(i).cast(inputs[i].dtype()).to(inputs[i].device());
    if (role_ == Role::aligned && has_branches(inner_)) trace_.inputs[0] = follow_branches(inputs[0], mode);
    trace_.output = inner_.forward(trace_.inputs, mode);
    return trace_.output;
  }
  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) override {
    trace_.handed_grad_output = grad_output;
    trace_.grad_output =
        role_ == Role::forced ? other_->grad_output.cast(grad_output.dtype()).to(grad_output.device()) : grad_output;
    trace_.grad_inputs = inner_.backward(trace_.grad_output, need_input_grad);
    return trace_.grad_inputs;
  }
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return inner_.parameters(); }
  std::vector<std::pair<std::string, Tensor*>> buffers() override { return inner_.buffers(); }
  void clear_saved() override { inner_.clear_saved(); }
  std::vector<uint64_t> random_state() const override { return inner_.random_state(); }
  void set_random_state(const std::vector<uint64_t>& state) override { inner_.set_random_state(state); }

 private:
  // `x` (float64, cpu), with the elements where the layer's branch differs from the one it took
  // on the device's input replaced by the device's values. A branch shows in the input gradient
  // of a fixed output gradient: a ReLU passes or drops each element, a max-pool routes each
  // window's to its largest element. Replacing the elements where those gradients differ moves
  // a max-pool's winner and loser onto the device's order; a new tie this creates is caught by
  // the next round, and after a few rounds the device's input is taken whole.
  Tensor follow_branches(const Tensor& x, Mode mode) {
    const Tensor device_x = other_->inputs.at(0).cast(DType::f64).to(Device::cpu());
    std::mt19937_64 rng(7);
    std::vector<double> probe_values(size_t(shape_numel(inner_.output_shape({x.shape()}))));
    for (double& v : probe_values) v = std::uniform_real_distribution<double>(1.0, 2.0)(rng);
    const Tensor probe = Tensor::from_vector(probe_values, inner_.output_shape({x.shape()}));
    auto routes = [&](const Tensor& input) {
      inner_.forward({input}, mode);
      return inner_.backward(probe, {true})[0].to_vector<double>();
    };
    const std::vector<double> wanted = routes(device_x), device_values = device_x.to_vector<double>();
    std::vector<double> values = x.to_vector<double>();
    for (int round = 0; round < 4; ++round) {
      const std::vector<double> got = routes(Tensor::from_vector(values, x.shape()));
      int64_t moved = 0;
      for (size_t i = 0; i < values.size(); ++i)
        if (got[i] != wanted[i]) {
          values[i] = device_values[i];
          ++moved;
        }
      if (moved == 0) return Tensor::from_vector(values, x.shape());
      trace_.aligned_elements += moved;
    }
    trace_.aligned_elements = x.numel();
    return device_x;
  }

  Layer& inner_;
  LayerTrace& trace_;
  Role role_;
  const LayerTrace* other_;
};

// A model of `config` whose every layer records its trace (traces[i] for node i); in forced or
// aligned mode, following `other` (another TracedModel's traces, node by node).
class TracedModel {
 public:
  explicit TracedModel(const nlohmann::json& config, RecordingLayer::Role role = RecordingLayer::Role::record,
                       const std::vector<LayerTrace>* other = nullptr)
      : layers_(build_model(config)), model(layers_.name(), layers_.input_shape()), traces(layers_.nodes().size()) {
    for (const auto& [name, shape] : layers_.auxiliary_inputs()) model.add_auxiliary_input(name, shape);
    for (size_t i = 0; i < layers_.nodes().size(); ++i) {
      const ModelNode& node = layers_.nodes()[i];
      model.add(node.name,
                std::make_unique<RecordingLayer>(*node.layer, traces[i], role, other ? &other->at(i) : nullptr),
                node.inputs, node.init);
    }
  }
  TracedModel(const TracedModel&) = delete;
  TracedModel& operator=(const TracedModel&) = delete;

  // Places the model on `device` as `dtype` with the weights, buffers and dropout states `from`.
  void load(Model& from, Device device, DType dtype) {
    model.to(device, dtype);
    model.load_state_dict(from.state_dict());
    model.set_random_states(from.random_states());
  }
  // The layer node i runs (a BatchNorm2d, a Conv2d, ...; the model's own are RecordingLayers).
  const Layer& layer(size_t i) const { return *layers_.nodes().at(i).layer; }
  int64_t aligned_elements() const {
    int64_t total = 0;
    for (const LayerTrace& t : traces) total += t.aligned_elements;
    return total;
  }

 private:
  Model layers_;  // owns the layers the recording ones run

 public:
  Model model;
  std::vector<LayerTrace> traces;
};

// ---- the models and their inputs ----------------------------------------------------------------

// A zoo model at a size the sim device runs in seconds.
struct ZooCase {
  std::string model;
  ZooOptions options;
  int64_t batch = 2;
};

void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.model; }

ZooOptions small(double width, int64_t input_size) {
  ZooOptions o;
  o.width = width;
  o.input_size = input_size;
  o.outputs = 5;
  return o;
}

// VGG-style models at 32 pixels (1×1 after their five pools), batch 2; artist-conv2d at 64 (its
// 8×8 and 4×4 pools leave 2×2). ResNets at 64 pixels and batch 4: layer4 is 2×2, and its
// BatchNorms normalise m = 16 values per channel — at m = 8 (batch 2) the end-to-end tf32 errors of
// layer4's weight gradients reach 1-2e-2 (measured), their sums having too few terms; the GCN
// heads with 10 categories, whose adjacency gradients sum over N·categories terms. Width 1/16:
// 4 to 128 channels (the i2v-feature code keeps its 4,096 features).
std::vector<ZooCase> zoo_cases() {
  std::vector<ZooCase> cases;
  for (const std::string& name : zoo_model_names()) {
    ZooCase c{name, small(1.0 / 16, 32)};
    if (name == "artist-conv2d") c.options = small(1.0, 64);
    if (name.rfind("resnet", 0) == 0) {
      c.options = small(1.0 / 16, 64);
      c.batch = 4;
    }
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "-gcn") == 0) c.options.outputs = 10;
    if (name == "resnet18-gcn") c.options.caption_features = 6;  // the GCN head's node_concat
    cases.push_back(c);
  }
  return cases;
}

// Initialises `model` as training would, then gives every parameter that initialisation sets to
// a constant (biases 0, BatchNorm's γ 1) and the running statistics random values nearby — so a
// kernel that ignores one fails — and scales each residual branch's last γ by 0.1 (see the top).
void initialize(Model& model, std::mt19937_64& rng) {
  model.initialize(rng());
  model.seed_random_layers(rng());
  std::normal_distribution<double> normal(0.0, 0.1);
  auto perturb = [&](Tensor& t, double scale, double lowest) {
    std::vector<double> v = t.cast(DType::f64).to_vector<double>();
    for (double& x : v) x = std::max(lowest, scale * (x + normal(rng)));
    t.copy_from(Tensor::from_vector(v, t.shape()).cast(t.dtype()));
  };
  std::set<std::string> residual_bns;
  for (const ModelNode& node : model.nodes())
    if (node.layer->kind() == "add" && model.has_node(node.inputs[0]) &&
        model.layer(node.inputs[0]).kind() == "batch_norm2d")
      residual_bns.insert(node.inputs[0]);
  for (const ModelNode& node : model.nodes())
    for (auto& [name, p] : node.layer->parameters()) {
      const std::vector<double> v = p->value.cast(DType::f64).to_vector<double>();
      const bool constant = std::all_of(v.begin(), v.end(), [&](double x) { return x == v[0]; });
      if (constant) perturb(p->value, residual_bns.count(node.name) && name == "weight" ? 0.1 : 1.0, -1e300);
    }
  for (auto& [name, t] : model.buffers())
    if (t->dtype() == DType::f32) perturb(*t, 1.0, 0.1);  // running_var stays positive
}

struct Batch {
  Tensor pictures, targets;
  std::map<std::string, Tensor> auxiliary;
};

// Random pictures, auxiliary inputs (uniform in [-1, 1)) and 0/1 targets.
Batch random_batch(const Model& model, int64_t batch, int64_t outputs, std::mt19937_64& rng) {
  Batch b;
  Shape shape = model.input_shape();
  shape.insert(shape.begin(), batch);
  b.pictures = test::random_tensor(shape, rng);
  for (const auto& [name, aux_shape] : model.auxiliary_inputs()) {
    Shape s = aux_shape;
    s.insert(s.begin(), batch);
    b.auxiliary[name] = test::random_tensor(s, rng);
  }
  std::vector<float> targets(size_t(batch * outputs));
  std::bernoulli_distribution coin(0.5);
  for (float& t : targets) t = coin(rng) ? 1.0f : 0.0f;
  b.targets = Tensor::from_vector(targets, {batch, outputs});
  return b;
}

// A forward and backward pass of `m` (zeroing its gradients first) with BCE-with-logits, on its
// device and dtype; returns the loss.
Tensor forward_backward(TracedModel& m, const Batch& b) {
  const Device device = m.model.device();
  const DType dtype = m.model.parameters().at(0).second->value.dtype();
  std::map<std::string, Tensor> auxiliary;
  for (const auto& [name, t] : b.auxiliary) auxiliary[name] = t.cast(dtype).to(device);
  m.model.zero_grad();
  const Tensor logits = m.model.forward(b.pictures.cast(dtype).to(device), auxiliary, Mode::train);
  BCEWithLogits loss;
  const Tensor value = loss.forward({logits, b.targets.cast(dtype).to(device)});
  m.model.backward(loss.backward());
  return value;
}

// The largest error of a test, and where: printed, for the record and for choosing bounds.
struct Worst {
  double error = 0;
  std::string where;
  void add(double e, const std::string& what) {
    if (!(e <= error)) {
      error = e;
      where = what;
    }
  }
};

// A BatchNorm's β and γ gradients are the per-channel sums Σ dy and Σ dy·x̂ (kernels/batch_norm.h);
// returns their terms' magnitudes, Σ|dy| and Σ|dy·x̂| per channel, from the float64 trace of the
// layer (its input and output gradient): the scale their errors are measured against (see the top).
std::pair<Tensor, Tensor> batch_norm_sum_scales(const LayerTrace& trace, double eps) {
  const Tensor& x = trace.inputs.at(0);
  const int64_t n = x.size(0), channels = x.size(1), plane = x.numel() / (n * channels);
  const std::vector<double> xs = x.to_vector<double>(), dy = trace.grad_output.to_vector<double>();
  std::vector<double> sum_dy(static_cast<size_t>(channels), 0.0), sum_dy_xhat(sum_dy);
  for (int64_t c = 0; c < channels; ++c) {
    auto each = [&](const auto& f) {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < plane; ++k) f(size_t((i * channels + c) * plane + k));
    };
    double mean = 0, var = 0;
    each([&](size_t j) { mean += xs[j]; });
    mean /= double(n * plane);
    each([&](size_t j) { var += (xs[j] - mean) * (xs[j] - mean); });
    const double inv_std = 1.0 / std::sqrt(var / double(n * plane) + eps);
    each([&](size_t j) {
      sum_dy[size_t(c)] += std::fabs(dy[j]);
      sum_dy_xhat[size_t(c)] += std::fabs(dy[j] * (xs[j] - mean) * inv_std);
    });
  }
  return {Tensor::from_vector(sum_dy, {channels}), Tensor::from_vector(sum_dy_xhat, {channels})};
}

// ‖actual − reference‖ / ‖scale‖ ≤ bound, reported with gtest; returns the error.
double expect_close_at_scale(const std::string& name, const Tensor& actual, const Tensor& reference,
                             const Tensor& scale, double bound) {
  const std::vector<double> a = actual.to(Device::cpu()).cast(DType::f64).to_vector<double>();
  const std::vector<double> b = reference.to_vector<double>(), s = scale.to_vector<double>();
  if (a.size() != b.size() || s.size() != b.size()) {
    ADD_FAILURE() << name << ": " << a.size() << " elements, the reference " << b.size() << ", the scale " << s.size();
    return std::numeric_limits<double>::infinity();
  }
  double difference = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference += (a[i] - b[i]) * (a[i] - b[i]);
    norm += s[i] * s[i];
  }
  const double error = std::sqrt(difference) / std::sqrt(norm);
  EXPECT_LE(error, bound) << name << ": ‖" << actual.device().name() << " − float64‖ / ‖Σ|terms|‖ = "
                          << error;
  return error;
}

// Expects each parameter's gradient and each floating buffer of `tested` within `bound` of
// `reference`'s: normwise, a BatchNorm's β and γ gradients against Σ|terms|.
void expect_gradients_and_buffers_close(TracedModel& tested, TracedModel& reference, double bound, Worst& worst) {
  for (size_t i = 0; i < reference.model.nodes().size(); ++i) {
    const ModelNode &node = reference.model.nodes()[i], &tested_node = tested.model.nodes()[i];
    auto ref_params = node.layer->parameters(), dev_params = tested_node.layer->parameters();
    std::optional<std::pair<Tensor, Tensor>> sum_scales;
    if (const auto* bn = dynamic_cast<const BatchNorm2d*>(&reference.layer(i)))
      sum_scales = batch_norm_sum_scales(reference.traces[i], bn->eps());
    for (size_t k = 0; k < ref_params.size(); ++k) {
      const std::string what = node.name + "." + ref_params[k].first + " gradient";
      const Tensor &got = dev_params[k].second->grad, &want = ref_params[k].second->grad;
      if (sum_scales) {
        const Tensor& scale = ref_params[k].first == "bias" ? sum_scales->first : sum_scales->second;
        worst.add(expect_close_at_scale(what, got, want, scale, bound), what + " (of Σ|terms|)");
      }
      else
        worst.add(test::expect_normwise_close(what, got, want, bound), what);
    }
    auto ref_buffers = node.layer->buffers(), dev_buffers = tested_node.layer->buffers();
    for (size_t k = 0; k < ref_buffers.size(); ++k)
      if (ref_buffers[k].second->dtype() == DType::f64) {  // not num_batches_tracked
        const std::string what = node.name + "." + ref_buffers[k].first;
        worst.add(test::expect_normwise_close(what, *dev_buffers[k].second, *ref_buffers[k].second, bound), what);
      }
  }
}

// ---- whole zoo models ---------------------------------------------------------------------------

using ZooParam = std::tuple<ZooCase, Device, Precision>;

class ZooModelOnDevices : public testing::TestWithParam<ZooParam> {
 protected:
  void SetUp() override {
    const auto& [zoo, device, precision] = GetParam();
    config_ = zoo_config(zoo.model, zoo.options);
    source_ = std::make_unique<Model>(build_model(config_));
    initialize(*source_, rng_);
    batch_ = random_batch(*source_, zoo.batch, zoo.options.outputs, rng_);
  }

  void print(const char* what, const Worst& worst, const std::string& note = "") const {
    const auto& [zoo, device, precision] = GetParam();
    std::printf("[ errors ] %s %s %s %s: worst %.2e (%s)%s\n", zoo.model.c_str(), device.name().c_str(),
                precision_name(precision), what, worst.error, worst.where.c_str(), note.c_str());
  }

  // Each layer from the float64 run's own inputs and output gradient (RecordingLayer's forced
  // mode) against that run's: outputs, input gradients, parameter gradients, buffers.
  void every_layer_agrees_with_float64();

  std::mt19937_64 rng_ = test::test_rng();
  nlohmann::json config_;
  std::unique_ptr<Model> source_;  // the weights, in fp32 on the cpu
  Batch batch_;
};

void ZooModelOnDevices::every_layer_agrees_with_float64() {
  const auto& [zoo, device, precision] = GetParam();
  TracedModel reference(config_);
  reference.load(*source_, Device::cpu(), DType::f64);
  forward_backward(reference, batch_);

  PrecisionScope scope(precision);
  const double bound = bounds(precision).per_layer;
  TracedModel tested(config_, RecordingLayer::Role::forced, &reference.traces);
  tested.load(*source_, device, DType::f32);
  forward_backward(tested, batch_);
  Worst worst;
  for (size_t i = 0; i < tested.traces.size(); ++i) {
    const std::string& name = tested.model.nodes()[i].name;
    const LayerTrace &want = reference.traces[i], &got = tested.traces[i];
    auto check = [&](const std::string& what, const Tensor& a, const Tensor& b) {
      worst.add(test::expect_normwise_close(name + " " + what, a, b, bound), name + " " + what);
    };
    check("output", got.output, want.output);
    ASSERT_EQ(got.output.device(), device) << name;
    ASSERT_EQ(got.grad_inputs.size(), want.grad_inputs.size()) << name;
    for (size_t k = 0; k < want.grad_inputs.size(); ++k)
      if (want.grad_inputs[k].defined())
        check("grad_input" + std::to_string(k), got.grad_inputs[k], want.grad_inputs[k]);
    // What the model handed the layer: the sum over its readers of their input gradients (each
    // from forced values), or the loss's gradient.
    if (want.grad_output.defined())
      check("output gradient summed by the model", got.handed_grad_output, want.grad_output);
  }
  expect_gradients_and_buffers_close(tested, reference, bound, worst);
  print("per layer", worst);
}

TEST_P(ZooModelOnDevices, EveryLayerAgreesWithFloat64) { every_layer_agrees_with_float64(); }

TEST_P(ZooModelOnDevices, WholeModelAgreesWithFloat64) {
  const auto& [zoo, device, precision] = GetParam();
  PrecisionScope scope(precision);
  TracedModel tested(config_);
  tested.load(*source_, device, DType::f32);
  const Tensor loss = forward_backward(tested, batch_);

  TracedModel reference(config_, RecordingLayer::Role::aligned, &tested.traces);
  reference.load(*source_, Device::cpu(), DType::f64);
  const Tensor reference_loss = forward_backward(reference, batch_);

  const double bound = bounds(precision).end_to_end;
  Worst worst;
  worst.add(test::expect_normwise_close("loss", loss, reference_loss, bound), "loss");
  worst.add(test::expect_normwise_close("logits", tested.traces.back().output, reference.traces.back().output, bound),
            "logits");
  expect_gradients_and_buffers_close(tested, reference, bound, worst);
  print("end to end", worst, " after moving " + std::to_string(reference.aligned_elements()) +
                                 " float64 inputs of branches onto the device's branch");
}

std::string zoo_param_name(const testing::TestParamInfo<ZooParam>& info) {
  std::string name = std::get<0>(info.param).model + "_" + std::get<1>(info.param).name() + "_" +
                     precision_name(std::get<2>(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// The zoo models that together hold every layer type of the zoo (checked below), and ResNet-50
// for its bottlenecks' 1×1 and strided convolutions.
std::vector<ZooCase> layer_type_cover() {
  const std::set<std::string> chosen = {"i2v-tag", "i2v-feature", "vgg11-fc", "resnet18-gcn", "resnet50"};
  std::vector<ZooCase> cases;
  for (const ZooCase& c : zoo_cases())
    if (chosen.count(c.model)) cases.push_back(c);
  return cases;
}

std::set<std::string> layer_kinds(const std::vector<ZooCase>& cases) {
  std::set<std::string> kinds;
  for (const ZooCase& c : cases) {
    const Model model = build_model(zoo_config(c.model, c.options));
    for (const ModelNode& node : model.nodes()) kinds.insert(node.layer->kind());
  }
  return kinds;
}

TEST(ZooCases, TheCoverHoldsEveryLayerTypeOfTheZoo) { EXPECT_EQ(layer_kinds(layer_type_cover()), layer_kinds(zoo_cases())); }

// The sanitizer build (tests/CMakeLists.txt) runs fp32 and tf32 on the cover only: the emulator is
// ~3× slower there, its point is memory errors in the same kernels, and the other ten models cost
// ~4 minutes of CI's two cores. This build runs them all.
#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModelOnDevices,
                         testing::Combine(testing::ValuesIn(kSanitizerBuild ? layer_type_cover() : zoo_cases()),
                                          testing::ValuesIn(test::gpu_devices()),
                                          testing::Values(Precision::fp32, Precision::tf32)),
                         zoo_param_name);

// Every layer type of the zoo in bf16 (the cover), on the cpu too (its bf16 GEMMs: kernels/gemm.h;
// the activations kept for backward in bf16: nn/layers/kept_activation.h). Worst measured with
// all 15 zoo models, over 4 seeds on sim and 2 on the cpu: 1.5e-2 (a ResNet's layer1.0.conv1.weight
// gradient); most models 3e-3 to 1e-2.
class ZooModelLayersOnDevices : public ZooModelOnDevices {};

TEST_P(ZooModelLayersOnDevices, EveryLayerInBf16AgreesWithFloat64) { every_layer_agrees_with_float64(); }

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModelLayersOnDevices,
                         testing::Combine(testing::ValuesIn(layer_type_cover()), testing::ValuesIn(test::all_devices()),
                                          testing::Values(Precision::bf16)),
                         zoo_param_name);

// ---- training ---------------------------------------------------------------------------------

using TrainingParam = std::tuple<Device, Precision>;

class TrainingOnDevices : public testing::TestWithParam<TrainingParam> {
 protected:
  static constexpr int kSteps = 3;

  void SetUp() override {
    config_ = zoo_config("i2v-tag", small(1.0 / 16, 32));
    source_ = std::make_unique<Model>(build_model(config_));
    initialize(*source_, rng_);
    for (int step = 0; step < kSteps; ++step) batches_.push_back(random_batch(*source_, 2, 5, rng_));
  }

  // One SGD step of `m` (momentum and weight decay: every term of the update is exercised) on
  // batches_[step]; returns the loss.
  Tensor step(TracedModel& m, Sgd& sgd, int step) {
    const Tensor loss = forward_backward(m, batches_[size_t(step)]);
    sgd.step(0.5);
    return loss;
  }
  static SgdOptions options() {
    SgdOptions o;
    o.momentum = 0.9;
    o.weight_decay = 5e-4;
    return o;
  }

  std::mt19937_64 rng_ = test::test_rng();
  nlohmann::json config_;
  std::unique_ptr<Model> source_;
  std::vector<Batch> batches_;
};

// After three steps: the weights, and the momentum buffers — v₃ = g₃ + 0.9·g₂ + 0.81·g₁ plus the
// weight decay's terms, the three steps' gradients, each taken at the weights the steps before
// left. The weights alone would say little: a step moves them by ~1e-3 of their size, so they
// would agree to that even without gradients, and their change w₃ − w₀ cannot be told in fp32
// better than u·|w| / |w₃ − w₀| ~ 2e-4 (measured). The float64 run follows the device's
// branches at every step (see the top).
TEST_P(TrainingOnDevices, ThreeSgdStepsAgreeWithFloat64) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  PrecisionScope scope(precision);
  const double bound = bounds(precision).end_to_end;
  TracedModel tested(config_);
  tested.load(*source_, device, DType::f32);
  Sgd tested_sgd(tested.model, options());
  TracedModel reference(config_, RecordingLayer::Role::aligned, &tested.traces);
  reference.load(*source_, Device::cpu(), DType::f64);
  Sgd reference_sgd(reference.model, options());
  Worst worst;
  int64_t aligned = 0;
  for (int s = 0; s < kSteps; ++s) {
    const Tensor loss = step(tested, tested_sgd, s), reference_loss = step(reference, reference_sgd, s);
    aligned += reference.aligned_elements();
    const std::string what = "loss of step " + std::to_string(s + 1);
    worst.add(test::expect_normwise_close(what, loss, reference_loss, bound), what);
  }
  auto dev = tested.model.parameters(), ref = reference.model.parameters();
  for (size_t i = 0; i < ref.size(); ++i) {
    const std::string what = ref[i].first + " after " + std::to_string(kSteps) + " steps";
    worst.add(test::expect_normwise_close(what, dev[i].second->value, ref[i].second->value, bound), what);
  }
  const std::map<std::string, Tensor> dev_momentum = tested_sgd.state(), ref_momentum = reference_sgd.state();
  ASSERT_EQ(dev_momentum.size(), ref.size());
  for (const auto& [name, v] : ref_momentum)
    worst.add(test::expect_normwise_close(name, dev_momentum.at(name), v, bound), name);
  std::printf("[ errors ] i2v-tag %s %s %d SGD steps: worst %.2e (%s) after moving %lld float64 inputs of branches\n",
              device.name().c_str(), precision_name(precision), kSteps, worst.error, worst.where.c_str(),
              static_cast<long long>(aligned));
}

// The same steps twice on the device (the sim device in two different thread schedules): the
// same bits — losses, weights and momentum — or some sum depends on timing (float atomics).
TEST_P(TrainingOnDevices, ThreeSgdStepsAreBitwiseReproducible) {
  // Named variables, not a structured binding: lambdas below capture them (C++17).
  const Device device = std::get<0>(GetParam());
  const Precision precision = std::get<1>(GetParam());
  PrecisionScope scope(precision);
  test::check_bitwise_reproducible(
      [&] {
        TracedModel tested(config_);
        tested.load(*source_, device, DType::f32);
        Sgd sgd(tested.model, options());
        std::vector<float> bits;
        for (int s = 0; s < kSteps; ++s) bits.push_back(step(tested, sgd, s).to_vector<float>().at(0));
        for (auto& [name, p] : tested.model.parameters())
          for (float v : p->value.to_vector<float>()) bits.push_back(v);
        for (auto& [name, velocity] : sgd.state())
          for (float v : velocity.to_vector<float>()) bits.push_back(v);
        return bits;
      },
      rng_);
}

std::string training_param_name(const testing::TestParamInfo<TrainingParam>& info) {
  return std::get<0>(info.param).name() + "_" + precision_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainingOnDevices,
                         testing::Combine(testing::ValuesIn(test::gpu_devices()),
                                          testing::Values(Precision::fp32, Precision::tf32)),
                         training_param_name);

}  // namespace
}  // namespace i2v
