#include "nn/onnx_export.h"

#include <cstring>
#include <set>

#include "base/error.h"
#include "base/protobuf_writer.h"
#include "nn/layers/avg_pool2d.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/layers/conv2d.h"
#include "nn/layers/leaky_relu.h"
#include "nn/layers/max_pool2d.h"
#include "nn/layers/scale.h"

namespace i2v {
namespace {

// Field numbers and enum values of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto)
// that this file writes.
namespace onnx {
constexpr int64_t kIrVersion = 8;  // ONNX 1.10-1.12: what opset 17 needs
constexpr int64_t kOpset = 17;
namespace model { enum { ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7,
                         opset_import = 8, metadata_props = 14 }; }
namespace opset_id { enum { version = 2 }; }
namespace entry { enum { key = 1, value = 2 }; }
namespace graph { enum { node = 1, name = 2, initializer = 5, input = 11, output = 12 }; }
namespace node { enum { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 }; }
namespace attribute { enum { name = 1, f = 2, i = 3, ints = 8, type = 20 };
                      enum Type { kFloat = 1, kInt = 2, kInts = 7 }; }
namespace tensor { enum { dims = 1, data_type = 2, name = 8, raw_data = 9 };
                   enum DataType { kFloat = 1, kInt64 = 7 }; }
namespace value_info { enum { name = 1, type = 2 }; }
namespace type { enum { tensor_type = 1 }; }
namespace tensor_type { enum { elem_type = 1, shape = 2 }; }
namespace shape { enum { dim = 1 }; }
namespace dimension { enum { dim_value = 1, dim_param = 2 }; }
}  // namespace onnx

// One attribute of a node: an int, a float or a list of ints.
struct Attribute {
  std::string name;
  onnx::attribute::Type type;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
Attribute int_attribute(std::string name, int64_t value) { return {std::move(name), onnx::attribute::kInt, value, 0, {}}; }
Attribute float_attribute(std::string name, float value) { return {std::move(name), onnx::attribute::kFloat, 0, value, {}}; }
Attribute ints_attribute(std::string name, std::vector<int64_t> values) {
  return {std::move(name), onnx::attribute::kInts, 0, 0, std::move(values)};
}

// Values as raw_data: little-endian, as TensorProto requires.
template <typename T>
std::string little_endian_bytes(const std::vector<T>& values) {
  std::string raw(values.size() * sizeof(T), '\0');
  for (size_t v = 0; v < values.size(); ++v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &values[v], sizeof(T));
    for (size_t byte = 0; byte < sizeof(T); ++byte) raw[v * sizeof(T) + byte] = char((bits >> (8 * byte)) & 0xff);
  }
  return raw;
}

// The graph as it is written: nodes and initializers go straight into the GraphProto.
class GraphWriter {
 public:
  void node(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& output,
            const std::string& name, const std::vector<Attribute>& attributes = {}) {
    ProtobufWriter node;
    for (const std::string& input : inputs) node.add_bytes(onnx::node::input, input);
    node.add_bytes(onnx::node::output, output);
    node.add_bytes(onnx::node::name, name);
    node.add_bytes(onnx::node::op_type, op_type);
    for (const Attribute& attribute : attributes) {
      ProtobufWriter a;
      a.add_bytes(onnx::attribute::name, attribute.name);
      a.add_varint(onnx::attribute::type, attribute.type);
      if (attribute.type == onnx::attribute::kInt) a.add_varint(onnx::attribute::i, attribute.i);
      if (attribute.type == onnx::attribute::kFloat) a.add_float(onnx::attribute::f, attribute.f);
      if (attribute.type == onnx::attribute::kInts) a.add_varints(onnx::attribute::ints, attribute.ints);
      node.add_message(onnx::node::attribute, a);
    }
    graph_.add_message(onnx::graph::node, node);
  }

  // A float32 initializer of `shape` holding `tensor`'s values (any device or dtype).
  void initializer(const std::string& name, const Tensor& tensor, const Shape& shape) {
    I2V_CHECK(shape_numel(shape) == tensor.numel(), "onnx export: {} has {} values, not {}", name, tensor.numel(),
              shape_str(shape));
    add_initializer(name, shape, onnx::tensor::kFloat,
                    little_endian_bytes(tensor.to(Device::cpu()).cast(DType::f32).contiguous().to_vector<float>()));
  }
  void initializer(const std::string& name, const std::vector<float>& values, const Shape& shape) {
    add_initializer(name, shape, onnx::tensor::kFloat, little_endian_bytes(values));
  }
  void initializer(const std::string& name, const std::vector<int64_t>& values, const Shape& shape) {
    add_initializer(name, shape, onnx::tensor::kInt64, little_endian_bytes(values));
  }

  // A float32 graph input or output of `shape`, whose first dimension is the symbolic "batch".
  void value(int field, const std::string& name, const Shape& shape) {
    ProtobufWriter dims;
    for (size_t d = 0; d < shape.size(); ++d) {
      ProtobufWriter dim;
      if (d == 0) dim.add_bytes(onnx::dimension::dim_param, "batch");
      else dim.add_varint(onnx::dimension::dim_value, shape[d]);
      dims.add_message(onnx::shape::dim, dim);
    }
    ProtobufWriter tensor_type;
    tensor_type.add_varint(onnx::tensor_type::elem_type, onnx::tensor::kFloat);
    tensor_type.add_message(onnx::tensor_type::shape, dims);
    ProtobufWriter type;
    type.add_message(onnx::type::tensor_type, tensor_type);
    ProtobufWriter info;
    info.add_bytes(onnx::value_info::name, name);
    info.add_message(onnx::value_info::type, type);
    graph_.add_message(field, info);
  }

  ProtobufWriter& proto() { return graph_; }

 private:
  void add_initializer(const std::string& name, const Shape& shape, int data_type, const std::string& raw) {
    ProtobufWriter tensor;
    tensor.add_varints(onnx::tensor::dims, shape);
    tensor.add_varint(onnx::tensor::data_type, data_type);
    tensor.add_bytes(onnx::tensor::name, name);
    tensor.add_bytes(onnx::tensor::raw_data, raw);
    graph_.add_message(onnx::graph::initializer, tensor);
  }

  ProtobufWriter graph_;
};

std::vector<Attribute> pool_attributes(const Pool2dOptions& o) {
  return {ints_attribute("kernel_shape", {o.kernel_h, o.kernel_w}), ints_attribute("strides", {o.stride_h, o.stride_w}),
          ints_attribute("pads", {o.pad_h, o.pad_w, o.pad_h, o.pad_w}), int_attribute("ceil_mode", o.ceil_mode ? 1 : 0)};
}

// The parameter `name` of a layer ("weight", "bias"), or an undefined tensor.
Tensor parameter(Layer& layer, const std::string& name) {
  for (auto& [parameter_name, parameter] : layer.parameters())
    if (parameter_name == name) return parameter->value;
  return Tensor();
}

Tensor buffer(Layer& layer, const std::string& name) {
  for (auto& [buffer_name, buffer] : layer.buffers())
    if (buffer_name == name) return *buffer;
  return Tensor();
}

// Writes the operators of one layer reading `inputs`, its result named `output`.
void write_layer(GraphWriter& graph, const std::string& name, Layer& layer, const std::vector<std::string>& inputs,
                 const std::string& output) {
  const std::string kind = layer.kind();
  const std::string& x = inputs.at(0);
  if (kind == "conv2d") {
    auto& conv = dynamic_cast<Conv2d&>(layer);
    const Tensor weight = conv.weight().value;
    graph.initializer(name + ".weight", weight, weight.shape());
    std::vector<std::string> operands{x, name + ".weight"};
    if (conv.bias().value.defined()) {
      graph.initializer(name + ".bias", conv.bias().value, conv.bias().value.shape());
      operands.push_back(name + ".bias");
    }
    const Extent2d k = conv.kernel(), s = conv.stride(), p = conv.padding();
    graph.node("Conv", operands, output, name,
               {ints_attribute("kernel_shape", {k.h, k.w}), ints_attribute("strides", {s.h, s.w}),
                ints_attribute("pads", {p.h, p.w, p.h, p.w}), ints_attribute("dilations", {1, 1}),
                int_attribute("group", 1)});
  } else if (kind == "linear") {
    // y = x · weightᵀ + bias over the last axis, for [N, F] as for [N, nodes, F]: MatMul takes any rank.
    const Tensor weight = parameter(layer, "weight");
    const Tensor weight_t = weight.transpose(0, 1).contiguous();
    graph.initializer(name + ".weight_transposed", weight_t, weight_t.shape());
    const Tensor bias = parameter(layer, "bias");
    if (!bias.defined()) {
      graph.node("MatMul", {x, name + ".weight_transposed"}, output, name);
      return;
    }
    graph.node("MatMul", {x, name + ".weight_transposed"}, output + "/matmul", name + "/matmul");
    graph.initializer(name + ".bias", bias, bias.shape());
    graph.node("Add", {output + "/matmul", name + ".bias"}, output, name);
  } else if (kind == "batch_norm2d") {
    auto& norm = dynamic_cast<BatchNorm2d&>(layer);
    for (const char* what : {"weight", "bias"}) {
      const Tensor t = parameter(layer, what);
      graph.initializer(name + "." + what, t, t.shape());
    }
    for (const char* what : {"running_mean", "running_var"}) {
      const Tensor t = buffer(layer, what);
      graph.initializer(name + "." + what, t, t.shape());
    }
    graph.node("BatchNormalization",
               {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}, output, name,
               {float_attribute("epsilon", float(norm.eps()))});
  } else if (kind == "relu") {
    graph.node("Relu", {x}, output, name);
  } else if (kind == "sigmoid") {
    graph.node("Sigmoid", {x}, output, name);
  } else if (kind == "leaky_relu") {
    graph.node("LeakyRelu", {x}, output, name, {float_attribute("alpha", float(dynamic_cast<LeakyReLU&>(layer).slope()))});
  } else if (kind == "softmax") {
    graph.node("Softmax", {x}, output, name, {int_attribute("axis", 1)});
  } else if (kind == "max_pool2d") {
    graph.node("MaxPool", {x}, output, name, pool_attributes(dynamic_cast<MaxPool2d&>(layer).options()));
  } else if (kind == "avg_pool2d") {
    auto& pool = dynamic_cast<AvgPool2d&>(layer);
    std::vector<Attribute> attributes = pool_attributes(pool.options());
    attributes.push_back(int_attribute("count_include_pad", pool.count_include_pad() ? 1 : 0));
    graph.node("AveragePool", {x}, output, name, attributes);
  } else if (kind == "global_avg_pool" || kind == "global_max_pool") {
    // ONNX keeps the 1×1 plane ([N, C, 1, 1]); our layer gives [N, C].
    graph.node(kind == "global_avg_pool" ? "GlobalAveragePool" : "GlobalMaxPool", {x}, output + "/pool", name + "/pool");
    graph.node("Flatten", {output + "/pool"}, output, name, {int_attribute("axis", 1)});
  } else if (kind == "flatten") {
    graph.node("Flatten", {x}, output, name, {int_attribute("axis", 1)});
  } else if (kind == "dropout") {
    graph.node("Identity", {x}, output, name);
  } else if (kind == "add") {
    graph.node("Add", inputs, output, name);
  } else if (kind == "concat") {
    graph.node("Concat", inputs, output, name, {int_attribute("axis", 1)});
  } else if (kind == "scale") {
    graph.initializer(name + ".factor", std::vector<float>{float(dynamic_cast<Scale&>(layer).factor())}, {});
    graph.node("Mul", {x, name + ".factor"}, output, name);
  } else {
    I2V_THROW("onnx export: layer '{}' ({}) has no ONNX form in i2v's exporter (the GCN head's layers are not exported)",
              name, layer.describe());
  }
}

// The input stage (nn/onnx_export.h); returns the name of the value the first layer reads.
std::string write_input_stage(GraphWriter& graph, const OnnxExportOptions& options, int64_t channels) {
  std::string value = options.input_name;
  if (options.channels_last) {
    graph.node("Transpose", {value}, "input/nchw", "input/nchw", {ints_attribute("perm", {0, 3, 1, 2})});
    value = "input/nchw";
  }
  const bool reorders = options.channel_source != std::array<int, 3>{0, 1, 2};
  const bool multiplies = options.multiply != std::array<float, 3>{1, 1, 1};
  const bool adds = options.add != std::array<float, 3>{0, 0, 0};
  if (!reorders && !multiplies && !adds) return value;
  I2V_CHECK(channels == 3, "onnx export: a channel order or normalisation needs 3 input channels, the model has {}",
            channels);
  if (reorders) {
    const auto& s = options.channel_source;
    graph.initializer("input/channel_order", std::vector<int64_t>{s[0], s[1], s[2]}, {3});
    graph.node("Gather", {value, "input/channel_order"}, "input/reordered", "input/reordered", {int_attribute("axis", 1)});
    value = "input/reordered";
  }
  if (multiplies) {
    const auto& m = options.multiply;
    graph.initializer("input/multiply", std::vector<float>(m.begin(), m.end()), {1, 3, 1, 1});
    graph.node("Mul", {value, "input/multiply"}, "input/scaled", "input/scaled");
    value = "input/scaled";
  }
  if (adds) {
    const auto& a = options.add;
    graph.initializer("input/add", std::vector<float>(a.begin(), a.end()), {1, 3, 1, 1});
    graph.node("Add", {value, "input/add"}, "input/normalised", "input/normalised");
    value = "input/normalised";
  }
  return value;
}

}  // namespace

std::string onnx_model_bytes(Model& model, const OnnxExportOptions& options) {
  I2V_CHECK(model.auxiliary_inputs().empty(), "onnx export: model {} reads auxiliary inputs, which are not exported",
            model.name());
  I2V_CHECK(!model.nodes().empty(), "onnx export: model {} has no layers", model.name());
  I2V_CHECK(model.input_shape().size() == 3, "onnx export: model {} takes {} per picture, not [C, H, W]", model.name(),
            shape_str(model.input_shape()));
  I2V_CHECK(options.input_name != options.output_name, "onnx export: the input and the output are both named '{}'",
            options.input_name);
  for (const ModelNode& node : model.nodes())
    I2V_CHECK(node.name != options.input_name && node.name != options.output_name,
              "onnx export: layer '{}' has the name of the graph's input or output", node.name);

  GraphWriter graph;
  graph.proto().add_bytes(onnx::graph::name, model.name());
  const Shape& chw = model.input_shape();
  const Shape input_shape = options.channels_last ? Shape{1, chw[1], chw[2], chw[0]} : Shape{1, chw[0], chw[1], chw[2]};
  graph.value(onnx::graph::input, options.input_name, input_shape);

  // Each layer's output value is named after the layer; the last one is the graph's output.
  std::map<std::string, std::string> value_of{{Model::kInput, write_input_stage(graph, options, chw[0])}};
  const std::string& last = model.nodes().back().name;
  const Shape output_shape = model.summary(1).back().output_shape;
  const bool reorders = !options.output_order.empty();
  if (reorders) {
    I2V_CHECK(output_shape.size() == 2 && int64_t(options.output_order.size()) == output_shape[1],
              "onnx export: an output order of {} outputs for an output of shape {}", options.output_order.size(),
              shape_str(output_shape));
    for (int64_t source : options.output_order)
      I2V_CHECK(source >= 0 && source < output_shape[1], "onnx export: output {} does not exist", source);
  }
  // The value each stage writes: the last one writes the graph's output.
  std::vector<std::string> stages{last};
  if (options.sigmoid_output) stages.push_back("probabilities");
  if (reorders) stages.push_back("reordered");
  stages.back() = options.output_name;

  for (const ModelNode& node : model.nodes()) {
    std::vector<std::string> inputs;
    for (const std::string& input : node.inputs) inputs.push_back(value_of.at(input));
    value_of[node.name] = node.name == last ? stages[0] : node.name;
    write_layer(graph, node.name, *node.layer, inputs, value_of[node.name]);
  }
  size_t stage = 1;
  if (options.sigmoid_output) {
    graph.node("Sigmoid", {stages[stage - 1]}, stages[stage], "probabilities");
    ++stage;
  }
  if (reorders) {
    graph.initializer("output/order", options.output_order, {int64_t(options.output_order.size())});
    graph.node("Gather", {stages[stage - 1], "output/order"}, stages[stage], "output/order", {int_attribute("axis", 1)});
  }

  graph.value(onnx::graph::output, options.output_name, output_shape);

  ProtobufWriter proto;
  proto.add_varint(onnx::model::ir_version, onnx::kIrVersion);
  proto.add_bytes(onnx::model::producer_name, "i2v");
  proto.add_bytes(onnx::model::producer_version, "1");
  if (!options.doc.empty()) proto.add_bytes(onnx::model::doc_string, options.doc);
  ProtobufWriter opset;
  opset.add_varint(onnx::opset_id::version, onnx::kOpset);
  proto.add_message(onnx::model::opset_import, opset);
  for (const auto& [key, value] : options.metadata) {
    ProtobufWriter entry;
    entry.add_bytes(onnx::entry::key, key);
    entry.add_bytes(onnx::entry::value, value);
    proto.add_message(onnx::model::metadata_props, entry);
  }
  proto.add_message(onnx::model::graph, graph.proto());
  return proto.bytes();
}

}  // namespace i2v
