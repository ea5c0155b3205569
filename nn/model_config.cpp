#include "nn/model_config.h"

#include <filesystem>
#include <functional>
#include <map>

#include "base/config_fields.h"
#include "base/error.h"
#include "nn/layers/add.h"
#include "nn/layers/avg_pool2d.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/layers/concat.h"
#include "nn/layers/conv2d.h"
#include "nn/layers/dropout.h"
#include "nn/layers/flatten.h"
#include "nn/layers/global_avg_pool.h"
#include "nn/layers/global_max_pool.h"
#include "nn/layers/graph_propagation.h"
#include "nn/layers/leaky_relu.h"
#include "nn/layers/linear.h"
#include "nn/layers/max_pool2d.h"
#include "nn/layers/node_classifier.h"
#include "nn/layers/node_concat.h"
#include "nn/layers/relu.h"
#include "nn/layers/scale.h"
#include "nn/layers/semantic_attention.h"
#include "nn/layers/sigmoid.h"
#include "nn/layers/softmax.h"
#include "base/file.h"
#include "base/system_memory.h"
#include "base/text.h"

namespace i2v {
namespace {

using nlohmann::json;

// What a layer's factory sees: its spec, the shapes of its inputs, the config's outputs.
struct LayerSpec {
  const json& fields;
  const std::vector<Shape>& inputs;
  int64_t outputs;

  int64_t count(const char* key) const {
    const json& value = fields.at(key);
    if (value.is_string() && value.get<std::string>() == "outputs") return outputs;
    return value.get<int64_t>();
  }
  Extent2d extent(const char* key, int64_t fallback) const {
    if (!fields.contains(key)) return fallback;
    const json& value = fields.at(key);
    if (value.is_array()) return Extent2d(value.at(0).get<int64_t>(), value.at(1).get<int64_t>());
    return value.get<int64_t>();
  }
  Pool2dOptions pool() const {
    const Extent2d kernel = extent("kernel", 2), stride = extent("stride", 0), padding = extent("padding", 0);
    Pool2dOptions o;
    o.kernel_h = kernel.h;
    o.kernel_w = kernel.w;
    o.stride_h = stride.h ? stride.h : kernel.h;
    o.stride_w = stride.w ? stride.w : kernel.w;
    o.pad_h = padding.h;
    o.pad_w = padding.w;
    o.ceil_mode = fields.value("ceil_mode", false);
    return o;
  }
  // Channels (dim 1) of the first input.
  int64_t channels() const {
    I2V_CHECK(!inputs.empty() && inputs[0].size() >= 2, "expects an input with channels, got {}",
              inputs.empty() ? "nothing" : shape_str(inputs[0]));
    return inputs[0][1];
  }
};

using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerSpec&)>;

const std::map<std::string, LayerFactory>& factories() {
  static const std::map<std::string, LayerFactory> table = {
      {"conv2d",
       [](const LayerSpec& s) {
         return std::make_unique<Conv2d>(s.channels(), s.count("out_channels"), s.extent("kernel", 3),
                                         s.extent("stride", 1), s.extent("padding", 0), s.fields.value("bias", true));
       }},
      {"linear",
       [](const LayerSpec& s) {
         const Shape& in = s.inputs.at(0);
         I2V_CHECK(in.size() == 2 || in.size() == 3,
                   "linear expects [N, features] (add a flatten layer) or node features [N, nodes, features], got {}",
                   shape_str(in));
         return std::make_unique<Linear>(in.back(), s.count("out_features"), s.fields.value("bias", true));
       }},
      {"relu", [](const LayerSpec&) { return std::make_unique<ReLU>(); }},
      {"leaky_relu", [](const LayerSpec& s) { return std::make_unique<LeakyReLU>(s.fields.value("slope", 0.01)); }},
      {"sigmoid", [](const LayerSpec&) { return std::make_unique<Sigmoid>(); }},
      {"softmax", [](const LayerSpec&) { return std::make_unique<Softmax>(); }},
      {"max_pool2d", [](const LayerSpec& s) { return std::make_unique<MaxPool2d>(s.pool()); }},
      {"avg_pool2d",
       [](const LayerSpec& s) {
         return std::make_unique<AvgPool2d>(s.pool(), s.fields.value("count_include_pad", true));
       }},
      {"global_avg_pool", [](const LayerSpec&) { return std::make_unique<GlobalAvgPool>(); }},
      {"global_max_pool", [](const LayerSpec&) { return std::make_unique<GlobalMaxPool>(); }},
      {"flatten", [](const LayerSpec&) { return std::make_unique<Flatten>(); }},
      {"dropout", [](const LayerSpec& s) { return std::make_unique<Dropout>(s.fields.value("p", 0.5)); }},
      {"batch_norm2d",
       [](const LayerSpec& s) {
         return std::make_unique<BatchNorm2d>(s.channels(), s.fields.value("eps", 1e-5), s.fields.value("momentum", 0.1));
       }},
      {"concat", [](const LayerSpec&) { return std::make_unique<Concat>(); }},
      {"add", [](const LayerSpec&) { return std::make_unique<Add>(); }},
      {"scale", [](const LayerSpec& s) { return std::make_unique<Scale>(s.fields.at("factor").get<double>()); }},
      {"semantic_attention", [](const LayerSpec&) { return std::make_unique<SemanticAttention>(); }},
      {"static_graph",
       [](const LayerSpec& s) {
         I2V_CHECK(s.inputs.at(0).size() == 3, "expects node features [N, nodes, features], got {}",
                   shape_str(s.inputs[0]));
         return GraphPropagation::learned(s.inputs[0][1]);
       }},
      {"dynamic_graph", [](const LayerSpec&) { return GraphPropagation::from_input(); }},
      {"node_concat", [](const LayerSpec&) { return std::make_unique<NodeConcat>(); }},
      {"node_classifier",
       [](const LayerSpec& s) {
         I2V_CHECK(s.inputs.at(0).size() == 3, "expects node features [N, nodes, features], got {}",
                   shape_str(s.inputs[0]));
         return std::make_unique<NodeClassifier>(s.inputs[0][1], s.inputs[0][2], s.fields.value("bias", true));
       }},
  };
  return table;
}

// A model config's top level; each layer's fields are its factory's.
struct ModelConfigFields {
  std::string name;
  Shape input;
  int64_t outputs;
  json auxiliary_inputs;
  json layers;
};

const ConfigSection<ModelConfigFields>& model_config_fields() {
  static const ConfigSection<ModelConfigFields> fields = {
      {"name", "model", &ModelConfigFields::name},
      {"input", nullptr, &ModelConfigFields::input},
      {"outputs", 0, &ModelConfigFields::outputs},
      {"auxiliary_inputs", json::object(), &ModelConfigFields::auxiliary_inputs},
      {"layers", "list of layers", nullptr, [](const json& value, ModelConfigFields& model) { model.layers = value; }},
  };
  return fields;
}

}  // namespace

std::vector<std::string> layer_types() {
  std::vector<std::string> types;
  for (const auto& [type, factory] : factories()) types.push_back(type);
  return types;
}

ModelSize estimate_model_size(const json& config) {
  ModelConfigFields top{};
  model_config_fields().read(config, "model_config", top);
  ModelSize size;
  if (top.input.empty() || !top.layers.is_array()) return size;
  // Each layer's output shape, by name; layers with parameters by their shapes' formulas (they
  // are not built), the others built (they allocate nothing) and asked.
  std::map<std::string, Shape> shapes;
  Shape input = top.input;
  input.insert(input.begin(), 1);
  shapes[Model::kInput] = input;
  for (const auto& [name, shape] : top.auxiliary_inputs.items()) {
    Shape auxiliary = shape.get<Shape>();
    auxiliary.insert(auxiliary.begin(), 1);
    shapes[name] = auxiliary;
  }
  Shape last = input;
  try {
    for (const json& fields : top.layers) {
      const std::string name = fields.at("name").get<std::string>(), type = fields.at("type").get<std::string>();
      std::vector<Shape> inputs;
      for (const std::string& source : fields.value("inputs", std::vector<std::string>{})) inputs.push_back(shapes.at(source));
      if (inputs.empty()) inputs.push_back(last);
      const LayerSpec spec{fields, inputs, top.outputs};
      const Shape& in = inputs[0];
      const bool bias = fields.value("bias", true);
      Shape out = in;
      if (type == "conv2d") {
        const int64_t channels = spec.count("out_channels");
        const Extent2d kernel = spec.extent("kernel", 3), stride = spec.extent("stride", 1),
                       padding = spec.extent("padding", 0);
        size.parameters += double(channels) * double(in.at(1)) * double(kernel.h * kernel.w) + (bias ? channels : 0);
        out = {in.at(0), channels, (in.at(2) + 2 * padding.h - kernel.h) / stride.h + 1,
               (in.at(3) + 2 * padding.w - kernel.w) / stride.w + 1};
      } else if (type == "linear") {
        const int64_t features = spec.count("out_features");
        size.parameters += double(features) * double(in.back()) + (bias ? features : 0);
        out.back() = features;
      } else if (type == "batch_norm2d") {
        size.parameters += 2.0 * double(in.at(1));
        size.buffers += 2.0 * double(in.at(1)) + 1;
      } else if (type == "static_graph") {
        size.parameters += double(in.at(1)) * double(in.at(1));
      } else if (type == "node_classifier") {
        size.parameters += double(in.at(1)) * double(in.at(2)) + (bias ? in.at(1) : 0);
        out = {in.at(0), in.at(1)};
      } else {
        out = factories().at(type)(spec)->output_shape(inputs);
      }
      shapes[name] = last = out;
    }
  } catch (const std::exception&) {
    // A config that does not fit together: build_model says where.
  }
  return size;
}

Model build_model(const json& config) {
  ModelConfigFields top{};
  model_config_fields().read(config, "model_config", top);
  const std::string& model_name = top.name;
  I2V_CHECK(!top.input.empty() && top.layers.is_array(),
            "model config '{}': give its \"input\" shape (e.g. [3, 224, 224]) and its \"layers\"", model_name);
  // Before anything is allocated: a model that cannot fit is refused with both sizes, rather
  // than the process being killed half-way through building it.
  const ModelSize size = estimate_model_size(config);
  if (size.bytes() > double(int64_t(1) << 28)) {
    const std::optional<int64_t> available = available_memory_bytes();
    I2V_CHECK(!available || size.bytes() <= double(*available),
              "model '{}' has {} parameters: building it takes about {} (float32 values and gradients), more than "
              "the {} of memory available here",
              model_name, format_si(size.parameters, ""), format_bytes(size.bytes()), format_bytes(double(*available)));
  }
  try {
    Model model(model_name, top.input);
    for (const auto& [name, shape] : top.auxiliary_inputs.items()) model.add_auxiliary_input(name, shape.get<Shape>());
    const int64_t outputs = top.outputs;
    for (const json& fields : top.layers) {
      const std::string name = fields.at("name").get<std::string>();
      const std::string type = fields.at("type").get<std::string>();
      auto factory = factories().find(type);
      if (factory == factories().end()) {
        std::string known;
        for (const std::string& t : layer_types()) known += (known.empty() ? "" : ", ") + t;
        I2V_THROW("layer '{}': unknown type '{}' (known: {})", name, type, known);
      }
      const std::vector<std::string> inputs = fields.value("inputs", std::vector<std::string>{});
      // The shapes the new layer will read, for inferring its input channels or features.
      std::vector<Shape> input_shapes;
      const std::vector<LayerSummary> rows = model.summary(1);
      auto shape_of = [&](const std::string& source) {
        if (source == Model::kInput || model.auxiliary_inputs().count(source)) {
          Shape shape = source == Model::kInput ? model.input_shape() : model.auxiliary_inputs().at(source);
          shape.insert(shape.begin(), 1);
          return shape;
        }
        for (const LayerSummary& row : rows)
          if (row.name == source) return row.output_shape;
        I2V_THROW("layer '{}' reads '{}', which is not an earlier layer", name, source);
      };
      if (inputs.empty()) input_shapes.push_back(rows.empty() ? shape_of(Model::kInput) : rows.back().output_shape);
      for (const std::string& source : inputs) input_shapes.push_back(shape_of(source));
      std::unique_ptr<Layer> layer;
      try {
        layer = factory->second(LayerSpec{fields, input_shapes, outputs});
      } catch (const json::exception& e) {
        I2V_THROW("layer '{}' ({}): {}", name, type, e.what());
      } catch (const Error& e) {
        I2V_THROW("layer '{}' ({}): {}", name, type, e.message());
      }
      model.add(name, std::move(layer), inputs, InitSpec::parse(fields.value("init", std::string("he"))));
    }
    return model;
  } catch (const json::exception& e) {
    I2V_THROW("model config '{}': {}", model_name, e.what());
  }
}

bool names_model_file(const std::string& name_or_path) {
  return name_or_path.find('/') != std::string::npos ||
         (name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0);
}

json resolve_model_config(const std::string& name_or_path, const ZooOptions& options) {
  if (!names_model_file(name_or_path)) return zoo_config(name_or_path, options);
  json config;
  try {
    config = json::parse(read_file(name_or_path));
  } catch (const json::exception& e) {
    I2V_THROW("{}: not a JSON model config: {}", name_or_path, e.what());
  }
  const ZooOptions defaults;
  I2V_CHECK(options.width == defaults.width, "{}: a width (--width, or \"width\" in a training config's model) applies to the shipped "
            "models only; edit the config's channels",
            name_or_path);
  if (options.outputs != defaults.outputs) config["outputs"] = options.outputs;
  if (options.input_size != defaults.input_size && config.contains("input") && config["input"].size() == 3)
    config["input"] = {config["input"][0], options.input_size, options.input_size};
  return config;
}

}  // namespace i2v
