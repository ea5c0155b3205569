// Models from JSON configs. A config is
//   {"name": "i2v-tag", "input": [3, 224, 224], "outputs": 1539,
//    "layers": [{"name": "conv1_1", "type": "conv2d", "out_channels": 64, "kernel": 3, "padding": 1},
//               {"name": "relu1_1", "type": "relu"}, ...]}
// Each layer reads the previous layer unless it lists "inputs" (earlier layers' names, "input",
// or an auxiliary input's name: "auxiliary_inputs": {"caption": [300]} declares per-picture
// inputs the data gives beside the pictures, nn/model.h); a number of channels or features may be the string "outputs" (the config's outputs:
// tags or classes). Input channels and features are inferred from the shapes. Layer types and
// their fields:
//   conv2d          out_channels, kernel, stride (1), padding (0), bias (true), init ("he")
//   linear          out_features, bias (true), init ("he"); over the last axis of [N, features]
//                   or of node features [N, nodes, features]
//   relu, sigmoid, softmax, leaky_relu (slope 0.01)
//   max_pool2d, avg_pool2d   kernel, stride (= kernel), padding (0), ceil_mode (false);
//                   avg_pool2d also count_include_pad (true)
//   global_avg_pool, global_max_pool, flatten, dropout (p 0.5), batch_norm2d (eps 1e-5,
//                   momentum 0.1), concat, add, scale (factor)
//   the GCN head's (node features are [N, nodes, features]):
//     semantic_attention   inputs [category maps NCHW, features NCHW] -> category nodes
//     static_graph         A_s · X with a learned [nodes, nodes] adjacency ("weight")
//     dynamic_graph        inputs [adjacency [N, nodes, nodes], features] -> A_n · X_n
//     node_concat          inputs [node features, [N, E] vector] -> the vector appended to every node
//     node_classifier      one classifier per node -> [N, nodes]; bias (true), init ("he")
// kernel, stride and padding are a number or [height, width]; init is "he", "xavier" or
// "gaussian:STD" (nn/init.h).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "nn/model.h"
#include "nn/model_zoo.h"

namespace i2v {

// Refuses, before allocating anything, a model whose parameters would not fit in the memory
// available (estimate_model_size, base/system_memory.h), saying both sizes.
Model build_model(const nlohmann::json& config);

// What a model of `config` holds, counted from the config without building it (nothing is
// allocated), as numbers of elements (doubles: a config may ask for more than an int64 counts).
struct ModelSize {
  double parameters = 0;  // trained values (each also has a gradient)
  double buffers = 0;     // BatchNorm's running statistics
  // A built model's bytes: float32 values and gradients of the parameters, and the buffers.
  double bytes() const { return parameters * 8 + buffers * 4; }
};
// Counts as far as the config's shapes fit (build_model reports where they do not).
ModelSize estimate_model_size(const nlohmann::json& config);

// A shipped model's name (nn/model_zoo.h, with `options`) or the path of a JSON config (whose
// "outputs" and "input" size the options override when they differ from the defaults).
nlohmann::json resolve_model_config(const std::string& name_or_path, const ZooOptions& options = {});
// Whether `resolve_model_config` reads `name_or_path` as a file: it has a '/' or ends in ".json".
bool names_model_file(const std::string& name_or_path);

// The layer types build_model knows.
std::vector<std::string> layer_types();

}  // namespace i2v
