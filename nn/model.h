// A network: named layers in order, each reading the model's input or the outputs of earlier
// layers (by name) — a sequence with the branching residual networks need.
//
// Besides the batch of pictures ("input"), a model may read auxiliary inputs: per-picture
// tensors given by name with each batch (the GCN head's caption feature v_cap, [N, D]). A layer
// reads one by listing its name among its inputs; nothing is back-propagated into them.
//
// Parameters are named "<layer>.<parameter>" ("conv1_1.weight", "features.0.bias"), buffers
// likewise ("bn1.running_mean"); state_dict() holds both, as PyTorch's does.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nn/init.h"
#include "nn/layer.h"

namespace i2v {

struct ModelNode {
  std::string name;
  std::unique_ptr<Layer> layer;
  std::vector<std::string> inputs;  // earlier layers' names, Model::kInput or auxiliary inputs' names
  InitSpec init;                    // how the layer's weight is initialised
};

// One row of Model::summary().
struct LayerSummary {
  std::string name;
  std::string description;
  Shape output_shape;
  int64_t parameters = 0;
  int64_t flops = 0;              // forward, for the whole batch
  int64_t activation_bytes = 0;   // the output, for the whole batch
};

class Model {
 public:
  static constexpr const char* kInput = "input";

  // `input_shape` is one sample's shape ([C, H, W] for images); the batch dimension comes first
  // in every tensor the model sees.
  Model(std::string name, Shape input_shape);
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // Declares an auxiliary input of one sample's `shape` (before the layers that read it).
  void add_auxiliary_input(const std::string& name, Shape shape);
  // One sample's shape of each auxiliary input, by name.
  const std::map<std::string, Shape>& auxiliary_inputs() const { return auxiliary_inputs_; }

  // Appends a layer reading `inputs` (default: the previous layer, or the input for the first).
  // Checks the names and that the layer accepts its inputs' shapes.
  Layer& add(const std::string& name, std::unique_ptr<Layer> layer, std::vector<std::string> inputs = {},
             InitSpec init = {});

  const std::string& name() const { return name_; }
  const Shape& input_shape() const { return input_shape_; }
  const std::vector<ModelNode>& nodes() const { return nodes_; }
  bool has_node(const std::string& name) const;
  Layer& layer(const std::string& name);

  // Runs the layers up to and including `until` (default: all) and returns that layer's output,
  // in f32 (or f64). At bf16 precision the activations between layers are bf16 where the layers'
  // bf16() says (nn/layer.h), as under PyTorch's bf16 autocast, and so are their gradients.
  Tensor forward(const Tensor& input, Mode mode, const std::string& until = "");
  // The same with the auxiliary inputs ([N, ...] on the model's device), which must hold every
  // one the model declares. `observe`, when given, sees each layer's output as it is made, bf16
  // where it passes on so (to look inside: i2v inspect activations).
  using LayerObserver = std::function<void(const std::string& layer, const Tensor& output)>;
  Tensor forward(const Tensor& input, const std::map<std::string, Tensor>& auxiliary, Mode mode,
                 const std::string& until = "", const LayerObserver& observe = nullptr);
  // After a train-mode forward: back-propagates dL/d(output) through the layers that ran, adding
  // into the parameters' grads. Layers with nothing to train upstream get no input gradient.
  // Returns dL/d(input) when asked, else an undefined tensor. Each layer releases what its forward
  // kept once the pass is past it: a second backward() needs another forward(). `after_layer`, when given, is told
  // each layer's name once its backward has run (its parameters' gradients are then complete):
  // distributed training starts summing them there (train/gradient_reducer.h).
  Tensor backward(const Tensor& grad_output, bool need_input_grad = false,
                  const std::function<void(const std::string& layer)>& after_layer = nullptr);

  std::vector<std::pair<std::string, Parameter*>> parameters();
  std::vector<std::pair<std::string, Tensor*>> buffers();
  // Parameters and buffers by name (views of the live tensors).
  std::map<std::string, Tensor> state_dict();
  // Copies `state` into the parameters and buffers (converting device and dtype: bf16 tensors,
  // as released weights often are, widen exactly to the f32 parameters, which stay f32 — the
  // master weights). Every name must match with the right shape, except the layers' optional
  // buffers (BatchNorm's num_batches_tracked), which are set to zero when `state` lacks them;
  // with strict = false, missing names keep their values. Errors list every missing, unexpected
  // and mis-shaped tensor.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  // The full names of the layers' optional buffers ("bn1.num_batches_tracked").
  std::set<std::string> optional_buffers() const;

  // The random generators of the layers that have one (Dropout), by layer name: for checkpoints.
  std::map<std::string, std::vector<uint64_t>> random_states() const;
  void set_random_states(const std::map<std::string, std::vector<uint64_t>>& states);
  // Gives each layer with a random generator its own seed derived from `seed`.
  void seed_random_layers(uint64_t seed);

  void to(Device device, DType dtype = DType::f32);
  Device device() const { return device_; }
  void zero_grad();
  // Initialises every layer as its InitSpec says (biases 0, BatchNorm scale 1), from `seed`.
  void initialize(uint64_t seed);
  // Re-initialises the named layers only (a "restart" of a loaded model's layers).
  void initialize_layers(const std::vector<std::string>& names, uint64_t seed);

  // Output shape of every layer for a batch of `batch` inputs of the model's input shape.
  std::vector<LayerSummary> summary(int64_t batch = 1) const;
  // The summary as a readable table with totals.
  std::string summary_table(int64_t batch = 1) const;
  int64_t parameter_count() const;

 private:
  size_t index_of(const std::string& name) const;
  // Whether `source` names a model input (the pictures or an auxiliary input) rather than a layer.
  bool is_model_input(const std::string& source) const;
  std::vector<Shape> input_shapes(const ModelNode& node, const std::vector<Shape>& outputs) const;

  std::string name_;
  Shape input_shape_;
  std::map<std::string, Shape> auxiliary_inputs_;
  std::vector<ModelNode> nodes_;
  std::map<std::string, size_t> index_;
  Device device_ = Device::cpu();
  size_t last_forward_end_ = 0;  // nodes [0, end) ran in the last train-mode forward
  std::vector<DType> output_dtypes_;  // of each node's output in the last forward (bf16 or not)
};

// The one-line note for a person loading `tensors` (read from `source`) into a model when some
// are bf16: how many, and that they are widened to the model's f32 parameters. Empty when none is.
std::string bf16_widening_note(const std::map<std::string, Tensor>& tensors, const std::string& source);

}  // namespace i2v
