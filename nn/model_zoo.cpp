#include "nn/model_zoo.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

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
  json last = linear("fc8", 0);
  last["out_features"] = "outputs";
  last["init"] = "gaussian:0.01";
  layers.push_back(last);
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
  json encode2 = linear("encode2", 0);
  encode2["out_features"] = "outputs";
  encode2["init"] = "xavier";
  layers.push_back(encode2);
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
  json last = linear("classifier.6", 0);
  last["out_features"] = "outputs";
  last["init"] = "gaussian:0.01";
  layers.push_back(last);
  return model("vgg19", o, layers);
}

}  // namespace

std::vector<std::string> zoo_model_names() { return {"i2v-feature", "i2v-tag", "vgg11-fc", "vgg19"}; }

nlohmann::json zoo_config(const std::string& name, const ZooOptions& requested) {
  I2V_CHECK(requested.outputs >= 0 && requested.input_size > 0 && requested.width > 0,
            "model {}: outputs, input size and width must be positive", name);
  ZooOptions options = requested;
  if (options.outputs == 0) options.outputs = name == "vgg19" ? 1000 : 1539;
  if (name == "i2v-tag") return i2v_tag(options);
  if (name == "vgg11-fc") return vgg11_fc(options);
  if (name == "i2v-feature") return i2v_feature(options);
  if (name == "vgg19") return vgg19(options);
  std::string names;
  for (const std::string& n : zoo_model_names()) names += (names.empty() ? "" : ", ") + n;
  I2V_THROW("unknown model '{}': the shipped models are {} (or give a config file path)", name, names);
}

}  // namespace i2v
