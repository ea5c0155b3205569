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
#include "train/data_loader.h"
#include "train/dataset.h"
#include "train/preprocess.h"

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
// shipped model's name or a config file) replaces the file's own, for weights without one.
TrainedModel load_trained_model(const std::string& weights, Device device, const std::string& model_config = "");

// Runs `model` over every picture of `dataset` (in order) up to layer `until` ("" = the output),
// calling `consume` with each batch and the activations ([N, ...] on the cpu). Pictures that
// cannot be decoded are skipped and reported on stderr.
void run_model(Model& model, std::shared_ptr<const Dataset> dataset, Device device, const std::string& until,
               int64_t batch_size, int workers, const std::function<void(const Batch&, const Tensor&)>& consume,
               const std::string& progress_label = "");

}  // namespace i2v
