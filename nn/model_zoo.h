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
//   resnet18, resnet34 (BasicBlocks), resnet50, resnet101 (Bottlenecks)
//                torchvision's ResNets with its module names, so that its state dicts load
//                unchanged: conv1 bn1 relu maxpool, layer1..layer4 of blocks layerS.B.{conv1, bn1,
//                conv2, bn2, [conv3, bn3], downsample.0, downsample.1}, avgpool (global average
//                pooling: any input size of at least 32 pixels), fc. Convolutions have no bias;
//                every BatchNorm keeps running_mean, running_var and num_batches_tracked. Our
//                parameterless nodes have names torchvision does not need (layerS.B.relu1,
//                .relu2, .add, .relu).
//   resnet14     the artist paper's ResNet-14 (its figure is lost): resnet18 without layer4 —
//                the same stem, then 2 BasicBlocks each of 64, 128 and 256 planes: 1 + 12
//                convolutions + fc = 14 weighted layers.
//   artist-conv2d  the artist paper's first Conv2D net: conv 4x4x8 s1 p1, ReLU, max-pool 8x8 s8
//                p1, conv 2x2x16 s1 p1, ReLU, max-pool 4x4 s4 p1, flatten, fc.
//   resnetN-gcn  (N = 14, 18, 34, 50, 101) the GCN paper's multi-label head on that ResNet's
//                last feature map M [D, h, w] (its avgpool and fc left out), after ADD-GCN:
//                  sam.cam          1x1 conv D -> C categories (class activation maps), no bias
//                  sam.score        global max pooling of each map: the attention branch's score
//                  sam.attention    sigmoid of the maps
//                  sam.transform    1x1 conv D -> D' (ADD-GCN's conv_transform)
//                  sam.nodes        semantic_attention: h_c = Σ_ij x^c_ij m_ij  [C, D']
//                  gcn.static_adj, gcn.static_weight, gcn.static_relu
//                                   V = LeakyReLU_0.2(A_s H W_s), A_s learned [C, C]
//                  gcn.caption      (with caption features) V' = [V, v_cap on every row]
//                  gcn.dynamic_adj, gcn.dynamic_sigmoid
//                                   A_d = sigmoid(V' W_Aᵀ + b): row c from node c's features
//                  gcn.dynamic_graph, gcn.dynamic_weight, gcn.dynamic_relu
//                                   Z = LeakyReLU_0.2(A_d V W_d)
//                  gcn.classifier   s_c = w_c · z_c + b_c, one binary classifier per category
//                  fuse.sum, fuse.mean  (s_attention + s_graph) / 2, as ADD-GCN (gcn_average_scores)
//                D' = gcn_features, or D capped at 1024 (ADD-GCN's 2048 -> 1024 for ResNet-101).
//                Logits, for sigmoid + BCE. The head's layers are named sam.*, gcn.*, fuse.*: one
//                optimizer rule ("pattern": "(sam|gcn|fuse)\\..*") gives them their own rate.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace i2v {

struct ZooOptions {
  int64_t outputs = 0;       // tags or classes of the last layer; 0: the model's own (1,539 tags, or 1,000
                             // ImageNet classes for vgg19 and the plain ResNets)
  int64_t input_size = 224;  // square input, pixels
  double width = 1.0;        // multiplies every hidden layer's channels (not the outputs, not the 4,096-bit code)
  // -gcn models only:
  int64_t gcn_features = 0;       // D', the node features' width (0: the backbone's, at most 1024)
  int64_t caption_features = 0;   // v_cap's width: the auxiliary input "caption" (0: no caption)
  bool gcn_average_scores = true;  // output (s_attention + s_graph) / 2 (else s_graph alone)
};

// The names of the shipped models.
std::vector<std::string> zoo_model_names();
// The config of a shipped model; throws listing the names for an unknown one.
nlohmann::json zoo_config(const std::string& name, const ZooOptions& options = {});

}  // namespace i2v
