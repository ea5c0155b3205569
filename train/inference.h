// Using a trained model: a weights file carries its model config, preprocessing and output names
// (train/training_config.h writes them), so the weights alone are enough to tag, embed or hash
// pictures.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/model.h"
#include "nn/model_zoo.h"
#include "data/data_loader.h"
#include "data/dataset.h"
#include "data/preprocess.h"

namespace i2v {

struct ModelOutput {
  std::string name;      // tag or class name, as in the vocabulary (underscores kept)
  std::string category;  // "general", "character", "copyright", "rating", ... ("" for classes)
};

struct TrainedModel {
  std::unique_ptr<Model> model;
  Preprocess preprocess;
  std::vector<ModelOutput> outputs;
  bool multi_label = true;
  std::map<std::string, std::string> metadata;
};

// Loads a weights file written by `i2v train` (or imported) onto `device`. `model_config` (a
// shipped model's name or a config file) replaces the file's own, for weights without one (such
// as torchvision's, converted); the number of outputs then comes from the file's output names, or
// else from the shape of the file's last layer (the layer the config sizes by "outputs").
TrainedModel load_trained_model(const std::string& weights, Device device, const std::string& model_config = "");

// Which model to build for a weights file, when not simply the one its metadata records.
struct ModelChoice {
  // A shipped model's name or a config file, built with `zoo` (outputs 0: the file's, as above),
  // instead of the file's own config; "" keeps the file's.
  std::string model;
  ZooOptions zoo;
  // With the file's own config: another input side (0 keeps it). Models that pool globally take
  // any size; the weights then still fit.
  int64_t input_size = 0;
};
TrainedModel load_trained_model(const std::string& weights, Device device, const ModelChoice& choice);

// True when the file's metadata records its model config (i2v train, i2v weights init and
// import-caffe write it), so that no model needs naming; reads the header only.
bool weights_record_model(const std::string& weights);

// A layer of `model` by its name, or by the name the VGG papers give it where the model has
// torchvision's VGG names: fc6 and fc7 (the first and second fully connected layers' outputs
// after their ReLU: classifier.1, classifier.4) and fc8 (the logits: classifier.6). Throws listing
// the model's layers for an unknown name.
std::string resolve_layer_name(const Model& model, const std::string& name);

// Runs `model` over every picture of `dataset` (in order) up to layer `until` ("" = the output),
// calling `consume` with each batch and the activations ([N, ...] on the cpu). Pictures that
// cannot be decoded are skipped and reported on stderr.
void run_model(Model& model, std::shared_ptr<const Dataset> dataset, Device device, const std::string& until,
               int64_t batch_size, int workers, const std::function<void(const Batch&, const Tensor&)>& consume,
               const std::string& progress_label = "");

}  // namespace i2v
