// The models the framework ships, as C++ builders of their JSON configs (configs/<name>.json
// holds the same JSON; a test keeps the two identical). A config lists named layers in order;
// nn/model_config.h turns it into a Model.
//
//   i2v-tag      Illustration2Vec's tagger: VGG model A's trunk (8 convs, 5 max-pools), then
//                conv6_1..conv6_3 (1024, 3×3, ReLU) and conv6_4 (one channel per tag), global
//                average pooling; outputs logits (sigmoid + BCE in training).
//   vgg11-fc     the paper's baseline: the same trunk, then FC 4096, 4096 (ReLU, dropout 0.5)
//                and FC per tag.
//   i2v-feature  the i2v-tag trunk through conv6_3 + ReLU, flatten, encode1 = Linear(→4096)
//                with a sigmoid (encode1neuron): the 4,096-d feature and, thresholded at 0.5,
//                the 4,096-bit hash; encode2 = Linear(4096 → tags).
//   vgg19        torchvision's vgg19 (features.N / classifier.N names), classifier to C classes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace i2v {

struct ZooOptions {
  int64_t outputs = 0;       // tags or classes of the last layer; 0: the model's own (1,539 tags, or 1,000 ImageNet classes for vgg19)
  int64_t input_size = 224;  // square input, pixels
  double width = 1.0;        // multiplies every hidden layer's channels (not the outputs, not the 4,096-bit code)
};

// The names of the shipped models.
std::vector<std::string> zoo_model_names();
// The config of a shipped model; throws listing the names for an unknown one.
nlohmann::json zoo_config(const std::string& name, const ZooOptions& options = {});

}  // namespace i2v
