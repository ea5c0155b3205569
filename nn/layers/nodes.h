// What the GCN head's layers share: node features are [N, C, D] tensors — for each of N images,
// one row of D features per category node (C of them) — and their multi-input layers check that
// the inputs sit on one device as one dtype.
#pragma once

#include <vector>

#include "nn/layer.h"

namespace i2v {

// Throws unless `shape` is [N, C, D] node features; `what` names the input in the message.
void check_node_features(const Layer& layer, const Shape& shape, const char* what);
// Throws unless every input is on the first one's device as its dtype.
void check_inputs_alike(const Layer& layer, const std::vector<Tensor>& inputs);

}  // namespace i2v
