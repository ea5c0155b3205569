#include "nn/model_zoo.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "base/error.h"

namespace i2v {
namespace {

using nlohmann::json;

int64_t scaled(int64_t channels, double width) { return std::max<int64_t>(1, std::llround(double(channels) * width)); }

json conv(const std::string& name, int64_t out, int64_t kernel = 3, int64_t padding = 1) {
  return {{"name", name}, {"type", "conv2d"}, {"out_channels", out}, {"kernel", kernel}, {"stride", 1}, {"padding", padding}};
}
json relu(const std::string& name) { return {{"name", name}, {"type", "relu"}}; }
json maxpool(const std::string& name) { return {{"name", name}, {"type", "max_pool2d"}, {"kernel", 2}, {"stride", 2}}; }
json linear(const std::string& name, int64_t out) { return {{"name", name}, {"type", "linear"}, {"out_features", out}}; }
json dropout(const std::string& name) { return {{"name", name}, {"type", "dropout"}, {"p", 0.5}}; }

json model(const std::string& name, const ZooOptions& o, json layers) {
  return {{"name", name}, {"input", {3, o.input_size, o.input_size}}, {"outputs", o.outputs}, {"layers", std::move(layers)}};
}

// The last linear layer: as many features as the model has outputs ("outputs" in the config).
json output_linear(const std::string& name, const std::string& init) {
  json layer = linear(name, 0);
  layer["out_features"] = "outputs";
  layer["init"] = init;
  return layer;
}

// VGG model A (VGG-11) as Illustration2Vec names it: conv1_1 pool1 conv2_1 pool2 conv3_1 conv3_2
// pool3 conv4_1 conv4_2 pool4 conv5_1 conv5_2 pool5.
json vgg_a_trunk(double width) {
  json layers = json::array();
  const std::vector<std::vector<int64_t>> stages = {{64}, {128}, {256, 256}, {512, 512}, {512, 512}};
  for (size_t s = 0; s < stages.size(); ++s) {
    for (size_t c = 0; c < stages[s].size(); ++c) {
      const std::string suffix = std::to_string(s + 1) + "_" + std::to_string(c + 1);
      layers.push_back(conv("conv" + suffix, scaled(stages[s][c], width)));
      layers.push_back(relu("relu" + suffix));
    }
    layers.push_back(maxpool("pool" + std::to_string(s + 1)));
  }
  return layers;
}

// conv6_1..conv6_3 (1024 channels, ReLU): the fully connected layers made convolutional.
void add_conv6(json& layers, double width) {
  for (int i = 1; i <= 3; ++i) {
    layers.push_back(conv("conv6_" + std::to_string(i), scaled(1024, width)));
    layers.push_back(relu("relu6_" + std::to_string(i)));
  }
}

json i2v_tag(const ZooOptions& o) {
  json layers = vgg_a_trunk(o.width);
  add_conv6(layers, o.width);
  json last = conv("conv6_4", 0);
  last["out_channels"] = "outputs";
  last["init"] = "gaussian:0.01";  // no ReLU follows: He's gain does not apply
  layers.push_back(last);
  layers.push_back({{"name", "pool6"}, {"type", "global_avg_pool"}});
  return model("i2v-tag", o, layers);
}

json vgg11_fc(const ZooOptions& o) {
  json layers = vgg_a_trunk(o.width);
  layers.push_back({{"name", "flatten"}, {"type", "flatten"}});
  for (int i = 6; i <= 7; ++i) {
    layers.push_back(linear("fc" + std::to_string(i), scaled(4096, o.width)));
    layers.push_back(relu("relu" + std::to_string(i)));
    layers.push_back(dropout("drop" + std::to_string(i)));
  }
  layers.push_back(output_linear("fc8", "gaussian:0.01"));
  return model("vgg11-fc", o, layers);
}

json i2v_feature(const ZooOptions& o) {
  json layers = vgg_a_trunk(o.width);
  add_conv6(layers, o.width);
  layers.push_back({{"name", "flatten"}, {"type", "flatten"}});
  json encode1 = linear("encode1", 4096);  // the 4,096-bit code: never scaled
  encode1["init"] = "xavier";              // a sigmoid follows
  layers.push_back(encode1);
  layers.push_back({{"name", "encode1neuron"}, {"type", "sigmoid"}});
  layers.push_back(output_linear("encode2", "xavier"));
  return model("i2v-feature", o, layers);
}

json vgg19(const ZooOptions& o) {
  json layers = json::array();
  const std::vector<std::vector<int64_t>> stages = {{64, 64}, {128, 128}, {256, 256, 256, 256},
                                                    {512, 512, 512, 512}, {512, 512, 512, 512}};
  int index = 0;  // torchvision's position in `features`
  for (const auto& stage : stages) {
    for (int64_t channels : stage) {
      layers.push_back(conv("features." + std::to_string(index++), scaled(channels, o.width)));
      layers.push_back(relu("features." + std::to_string(index++)));
    }
    layers.push_back(maxpool("features." + std::to_string(index++)));
  }
  layers.push_back({{"name", "flatten"}, {"type", "flatten"}});
  layers.push_back(linear("classifier.0", scaled(4096, o.width)));
  layers.push_back(relu("classifier.1"));
  layers.push_back(dropout("classifier.2"));
  layers.push_back(linear("classifier.3", scaled(4096, o.width)));
  layers.push_back(relu("classifier.4"));
  layers.push_back(dropout("classifier.5"));
  layers.push_back(output_linear("classifier.6", "gaussian:0.01"));
  return model("vgg19", o, layers);
}

// ---- ResNets, with torchvision's module names ---------------------------------------------

// A convolution without bias (a BatchNorm follows) and its BatchNorm.
void add_conv_bn(json& layers, const std::string& conv_name, const std::string& bn_name, int64_t out, int64_t kernel,
                 int64_t stride, const json& inputs = json()) {
  json c = {{"name", conv_name}, {"type", "conv2d"}, {"out_channels", out}, {"kernel", kernel},
            {"stride", stride},  {"padding", kernel / 2}, {"bias", false}};
  if (!inputs.is_null()) c["inputs"] = inputs;
  layers.push_back(c);
  layers.push_back({{"name", bn_name}, {"type", "batch_norm2d"}});
}

struct ResNetSpec {
  bool bottleneck;                 // Bottleneck (1x1, 3x3, 1x1; 4x wider out) or BasicBlock (3x3, 3x3)
  std::vector<int> blocks;         // per stage
};

// One residual block named `prefix` ("layer2.0") reading `input`; returns the name of its output.
// BasicBlock: conv1 3x3 (stride) bn1 relu1 conv2 3x3 bn2; Bottleneck: conv1 1x1 bn1 relu1
// conv2 3x3 (stride) bn2 relu2 conv3 1x1 bn3 (torchvision's "ResNet v1.5" puts the stride on
// the 3x3). The shortcut is the input itself, or downsample.0 (1x1 conv, stride) +
// downsample.1 (BatchNorm) when the shape changes; then add and relu.
std::string add_residual_block(json& layers, const std::string& prefix, const std::string& input, bool bottleneck,
                               int64_t in_channels, int64_t planes, int64_t out_channels, int64_t stride) {
  const std::string p = prefix + ".";
  std::string last;
  if (bottleneck) {
    add_conv_bn(layers, p + "conv1", p + "bn1", planes, 1, 1);
    layers.push_back(relu(p + "relu1"));
    add_conv_bn(layers, p + "conv2", p + "bn2", planes, 3, stride);
    layers.push_back(relu(p + "relu2"));
    add_conv_bn(layers, p + "conv3", p + "bn3", out_channels, 1, 1);
    last = p + "bn3";
  } else {
    add_conv_bn(layers, p + "conv1", p + "bn1", planes, 3, stride);
    layers.push_back(relu(p + "relu1"));
    add_conv_bn(layers, p + "conv2", p + "bn2", out_channels, 3, 1);
    last = p + "bn2";
  }
  std::string shortcut = input;
  if (stride != 1 || in_channels != out_channels) {
    add_conv_bn(layers, p + "downsample.0", p + "downsample.1", out_channels, 1, stride, json::array({input}));
    shortcut = p + "downsample.1";
  }
  layers.push_back({{"name", p + "add"}, {"type", "add"}, {"inputs", json::array({last, shortcut})}});
  layers.push_back(relu(p + "relu"));
  return p + "relu";
}

// The stem (conv1 7x7/2, bn1, relu, maxpool 3x3/2) and the stages layer1.. of 64, 128, 256, 512
// planes (the first at stride 1, the others 2); returns the layers, ending at the last block's
// relu (the backbone's feature map, `channels` deep).
json resnet_trunk(const ResNetSpec& spec, double width, int64_t& channels) {
  json layers = json::array();
  add_conv_bn(layers, "conv1", "bn1", scaled(64, width), 7, 2);
  layers[0]["padding"] = 3;
  layers.push_back(relu("relu"));
  layers.push_back({{"name", "maxpool"}, {"type", "max_pool2d"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}});
  std::string input = "maxpool";
  channels = scaled(64, width);
  const int64_t expansion = spec.bottleneck ? 4 : 1;
  for (size_t s = 0; s < spec.blocks.size(); ++s) {
    const int64_t planes = scaled(int64_t(64) << s, width);
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const int64_t stride = s > 0 && b == 0 ? 2 : 1;
      input = add_residual_block(layers, fmt::format("layer{}.{}", s + 1, b), input, spec.bottleneck, channels, planes,
                                 planes * expansion, stride);
      channels = planes * expansion;
    }
  }
  return layers;
}

// Global average pooling (torchvision's adaptive "avgpool": any input size) and fc.
json resnet(const std::string& name, const ResNetSpec& spec, const ZooOptions& o) {
  int64_t channels = 0;
  json layers = resnet_trunk(spec, o.width, channels);
  layers.push_back({{"name", "avgpool"}, {"type", "global_avg_pool"}});
  layers.push_back(output_linear("fc", "gaussian:0.01"));
  return model(name, o, layers);
}

const std::map<std::string, ResNetSpec>& resnet_specs() {
  static const std::map<std::string, ResNetSpec> specs = {
      {"resnet14", {false, {2, 2, 2}}},      {"resnet18", {false, {2, 2, 2, 2}}},
      {"resnet34", {false, {3, 4, 6, 3}}},   {"resnet50", {true, {3, 4, 6, 3}}},
      {"resnet101", {true, {3, 4, 23, 3}}},
  };
  return specs;
}

// ---- the GCN paper's head (after ADD-GCN) -------------------------------------------------------

json layer(const std::string& name, const std::string& type, json fields = json::object()) {
  fields["name"] = name;
  fields["type"] = type;
  return fields;
}

// Appends the head to a backbone whose last layer gives a [channels, h, w] feature map.
void add_gcn_head(json& layers, int64_t channels, const ZooOptions& o) {
  const std::string features = layers.back().at("name").get<std::string>();
  const int64_t width = o.gcn_features > 0 ? o.gcn_features : std::min<int64_t>(channels, 1024);
  json cam = conv("sam.cam", 0, 1, 0);
  cam["out_channels"] = "outputs";
  cam["bias"] = false;
  cam["init"] = "gaussian:0.01";
  layers.push_back(cam);
  layers.push_back(layer("sam.score", "global_max_pool"));
  layers.push_back(layer("sam.attention", "sigmoid", {{"inputs", json::array({"sam.cam"})}}));
  json transform = conv("sam.transform", width, 1, 0);
  transform["inputs"] = json::array({features});
  layers.push_back(transform);
  layers.push_back(
      layer("sam.nodes", "semantic_attention", {{"inputs", json::array({"sam.attention", "sam.transform"})}}));
  layers.push_back(layer("gcn.static_adj", "static_graph"));
  layers.push_back(linear("gcn.static_weight", width));
  layers.push_back(layer("gcn.static_relu", "leaky_relu", {{"slope", 0.2}}));
  if (o.caption_features > 0)
    layers.push_back(layer("gcn.caption", "node_concat", {{"inputs", json::array({"gcn.static_relu", "caption"})}}));
  layers.push_back(output_linear("gcn.dynamic_adj", "xavier"));  // a sigmoid follows
  layers.push_back(layer("gcn.dynamic_sigmoid", "sigmoid"));
  layers.push_back(layer("gcn.dynamic_graph", "dynamic_graph",
                         {{"inputs", json::array({"gcn.dynamic_sigmoid", "gcn.static_relu"})}}));
  layers.push_back(linear("gcn.dynamic_weight", width));
  layers.push_back(layer("gcn.dynamic_relu", "leaky_relu", {{"slope", 0.2}}));
  layers.push_back(layer("gcn.classifier", "node_classifier", {{"init", "gaussian:0.01"}}));
  if (o.gcn_average_scores) {
    layers.push_back(layer("fuse.sum", "add", {{"inputs", json::array({"sam.score", "gcn.classifier"})}}));
    layers.push_back(layer("fuse.mean", "scale", {{"factor", 0.5}}));
  }
}

json resnet_gcn(const std::string& name, const ResNetSpec& spec, const ZooOptions& o) {
  int64_t channels = 0;
  json layers = resnet_trunk(spec, o.width, channels);
  add_gcn_head(layers, channels, o);
  json config = model(name, o, layers);
  if (o.caption_features > 0) config["auxiliary_inputs"] = {{"caption", json::array({o.caption_features})}};
  return config;
}

// ---- the artist paper's small Conv2D net ----------------------------------------------------

// conv 4x4x8 s1 p1, ReLU, max-pool 8x8 s8 p1, conv 2x2x16 s1 p1, ReLU, max-pool 4x4 s4 p1,
// flatten, fc.
json artist_conv2d(const ZooOptions& o) {
  auto pool = [](const std::string& name, int64_t kernel) {
    return json{{"name", name}, {"type", "max_pool2d"}, {"kernel", kernel}, {"stride", kernel}, {"padding", 1}};
  };
  json layers = json::array();
  layers.push_back(conv("conv1", scaled(8, o.width), 4, 1));
  layers.push_back(relu("relu1"));
  layers.push_back(pool("pool1", 8));
  layers.push_back(conv("conv2", scaled(16, o.width), 2, 1));
  layers.push_back(relu("relu2"));
  layers.push_back(pool("pool2", 4));
  layers.push_back({{"name", "flatten"}, {"type", "flatten"}});
  layers.push_back(output_linear("fc", "gaussian:0.01"));
  return model("artist-conv2d", o, layers);
}

}  // namespace

std::vector<std::string> zoo_model_names() {
  std::vector<std::string> names = {"artist-conv2d", "i2v-feature", "i2v-tag", "vgg11-fc", "vgg19"};
  for (const auto& [name, spec] : resnet_specs()) {
    names.push_back(name);
    names.push_back(name + "-gcn");
  }
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json zoo_config(const std::string& name, const ZooOptions& requested) {
  I2V_CHECK(requested.outputs >= 0 && requested.input_size > 0 && requested.width > 0,
            "model {}: outputs, input size and width must be positive", name);
  I2V_CHECK(requested.gcn_features >= 0 && requested.caption_features >= 0,
            "model {}: gcn_features and caption_features cannot be negative", name);
  ZooOptions options = requested;
  if (options.outputs == 0) options.outputs = name == "vgg19" || resnet_specs().count(name) ? 1000 : 1539;
  if (name == "i2v-tag") return i2v_tag(options);
  if (name == "vgg11-fc") return vgg11_fc(options);
  if (name == "i2v-feature") return i2v_feature(options);
  if (name == "vgg19") return vgg19(options);
  if (name == "artist-conv2d") return artist_conv2d(options);
  if (resnet_specs().count(name)) return resnet(name, resnet_specs().at(name), options);
  const std::string gcn_suffix = "-gcn";
  if (name.size() > gcn_suffix.size() &&
      name.compare(name.size() - gcn_suffix.size(), gcn_suffix.size(), gcn_suffix) == 0) {
    const std::string backbone = name.substr(0, name.size() - gcn_suffix.size());
    if (resnet_specs().count(backbone)) return resnet_gcn(name, resnet_specs().at(backbone), options);
  }
  std::string names;
  for (const std::string& n : zoo_model_names()) names += (names.empty() ? "" : ", ") + n;
  I2V_THROW("unknown model '{}': the shipped models are {} (or give a config file path)", name, names);
}

}  // namespace i2v
