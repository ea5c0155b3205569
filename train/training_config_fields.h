// What a training config says, section by section, before anything is loaded: one struct per
// section, filled by one table per section (base/config_fields.h) that lists its fields with
// their defaults. docs/training.md has a row for each field (tests/config_docs_test.cpp holds it
// to the tables); train/training_config.h builds a run from these.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/config_fields.h"
#include "data/auxiliary_features.h"
#include "data/data_loader.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "nn/model_zoo.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "train/trainer.h"

namespace i2v {

// The top level: the loop's options, the seed, and the sections (read by their own tables).
struct TopLevelFields {
  TrainerOptions loop;
  uint64_t seed;
  nlohmann::json model, init, data, loss, optimizer, schedule, distributed;
};

// "model": a shipped model or a model config file, and the shipped models' options.
struct ModelFields {
  std::string name;  // or the path of a model config file
  ZooOptions zoo;
  std::optional<int64_t> input_size;  // only a check: it must be data.preprocess.size
};

// "init": weights to start from (none: the model's own initialisation).
struct InitFields {
  std::string weights;
  std::vector<std::string> restart;
  bool strict;
};

// "data": a dump (metadata, images, layout, vocab) or an image folder (folders, classes), split
// as it says; the preprocessing of the evaluation and the training pictures; the batches.
struct DataFields {
  DanbooruSource dump;
  std::string vocab;  // none: a default vocabulary built in memory
  ImageFolderSource folder;
  nlohmann::json auxiliary;  // read when the features are loaded (train/training_config.h)
  Preprocess preprocess, augmented;  // "augment" changes a copy of "preprocess"
  bool cache;
  LoaderOptions loader;
};

// "loss": its type (none: the data's kind decides) and bce_with_logits' options.
struct LossFields {
  std::optional<std::string> type, reduction;
  nlohmann::json pos_weight;  // null: none
};

// "optimizer": SGD's options and the per-layer rate rules (train/sgd.h).
struct OptimizerFields {
  SgdOptions sgd;
  nlohmann::json layers;
};

// "distributed": what a run on several ranks (mpirun -np R i2v train) does differently.
struct DistributedFields {
  ReducerOptions reducer;
  bool linear_lr_scaling = false;
  bool sync_batch_norm = false;
  double timeout_seconds = 1800;
};

// A whole training config.
struct TrainingFields {
  TopLevelFields top;
  DataFields data;
  ModelFields model;
  InitFields init;
  LossFields loss;
  OptimizerFields optimizer;
  LrSchedule schedule;
  DistributedFields distributed;
};

// Reads every section, so that a misspelt field anywhere stops a run before the data is read.
// Throws naming the field that is wrong.
TrainingFields read_training_fields(const nlohmann::json& config);
// The "data" section alone (i2v eval reads a run's).
DataFields read_data_fields(const nlohmann::json& data);
// One entry of "data.auxiliary" (`where`: "data.auxiliary.caption").
AuxiliarySource read_auxiliary_source(const nlohmann::json& entry, const std::string& where);

// Every section with its fields, by path ("" the top level, "data", "data.augment", "schedule",
// "transfer.svm", ...): the tables above and those of the sections other files read.
std::map<std::string, std::vector<ConfigFieldInfo>> training_config_fields();

}  // namespace i2v
