// A model as an ONNX file (https://onnx.ai/onnx/, opset 17, IR version 8), weights included, for
// ONNX Runtime and the tools built on it (the WD-tagger captioning tools, WebUI/ComfyUI
// extensions). Written with base/protobuf_writer.h: no generated copy of onnx.proto.
//
// The graph, in order:
//   input stage   the picture as the caller hands it (NCHW or NHWC, 0-255 or any range) turned
//                 into what the first layer was trained on: a Transpose to NCHW, a Gather that
//                 reorders the channels (RGB <-> BGR), then one Mul and one Add per channel
//                 (value = pixel · multiply[c] + add[c]). Steps that change nothing are left out.
//   the layers    one ONNX operator per layer, in the model's order, each output named after its
//                 layer (Netron shows the names of `i2v model summary`), eval semantics:
//                   conv2d Conv   linear MatMul (+ Add)   batch_norm2d BatchNormalization
//                   relu Relu   sigmoid Sigmoid   leaky_relu LeakyRelu   softmax Softmax(axis 1)
//                   max_pool2d MaxPool   avg_pool2d AveragePool   global_avg_pool GlobalAveragePool
//                   + Flatten   global_max_pool GlobalMaxPool + Flatten   flatten Flatten
//                   dropout Identity   add Sum   concat Concat(axis 1)   scale Mul
//                 The GCN head's layers (semantic_attention, the graphs) have no export: such a
//                 model is refused, naming the layer.
//   output stage  optionally a Sigmoid (probabilities instead of logits), and a Gather that lists
//                 the outputs in another order.
// The batch dimension is symbolic ("batch"); the picture's size is the model's.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "nn/model.h"

namespace i2v {

struct OnnxExportOptions {
  std::string input_name = "input";
  std::string output_name = "output";
  bool channels_last = false;            // the input is [batch, H, W, C] rather than [batch, C, H, W]
  std::array<int, 3> channel_source{0, 1, 2};  // the model's channel c is the input's channel_source[c]
  std::array<float, 3> multiply{1, 1, 1};      // per model channel, after the reorder
  std::array<float, 3> add{0, 0, 0};
  bool sigmoid_output = false;
  std::vector<int64_t> output_order;            // output j is the model's output_order[j]; empty: as the model
  std::string doc;                              // the model's doc_string: its input contract, in words
  std::map<std::string, std::string> metadata;  // metadata_props
};

// The serialized ModelProto of `model` (its weights copied to the cpu as float32). Throws naming
// the layer when one has no ONNX form, and when the model reads auxiliary inputs.
std::string onnx_model_bytes(Model& model, const OnnxExportOptions& options);

}  // namespace i2v
