// One JSON file describes a training run (docs/training.md has every field;
// train/training_config_fields.h reads them):
//
//   {"run": "runs/emoji-tag", "seed": 1, "device": "cpu",
//    "model": {"name": "i2v-tag", "width": 0.25, "input_size": 64},     // or {"config": "file.json"}
//              (-gcn models also "gcn_features": 0, "gcn_average_scores": true: nn/model_zoo.h)
//    "init": {"weights": "W.safetensors", "restart": ["conv6_4"], "strict": false},  // optional
//    "data": {"metadata": ["dump/metadata.jsonl"], "images": "dump", "vocab": "vocab.json",
//             "preprocess": {"preset": "unit", "size": 64}, "augment": {"crop": "random", "hflip": true},
//             "batch_size": 32, "workers": 2, "cache": true,              // or "folders": DIR (and "classes": [...])
//             "auxiliary": {"caption": {"features": "f.npy", "ids": "ids.npy"}}},  // optional
//                                      (data/auxiliary_features.h; a -gcn model then reads v_cap)
//    "loss": {"type": "bce_with_logits"},                                  // default from the data
//    "optimizer": {"momentum": 0.9, "weight_decay": 5e-4, "layers": [{"layers": [...], "lr_mult": 0.01}]},
//    "schedule": {"lr": 0.01, "type": "plateau", "patience": 2},
//    "epochs": 10, "validate_every_steps": 0, "checkpoint_every_steps": 500, "keep_checkpoints": 3,
//    "on_nonfinite": "stop"}
//
// `i2v train --config F --set schedule.lr=0.05` overrides any field by its dotted path.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/loss.h"
#include "nn/model.h"
#include "data/data_loader.h"
#include "data/dataset.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "train/trainer.h"

namespace i2v {

// The pictures and targets a config's "data" section names (a dump with its vocabulary, or an
// image folder), split as it says.
std::shared_ptr<const DatasetContents> read_data(const nlohmann::json& data);
// Its evaluation preprocessing (no augmentation).
Preprocess data_preprocess(const nlohmann::json& data);

// The auxiliary inputs of a config's "data.auxiliary" section (data/auxiliary_features.h), in
// name order; prints what it read.
std::vector<std::shared_ptr<const AuxiliaryFeatures>> read_auxiliary(const nlohmann::json& auxiliary);

// Applies "a.b.c=value" (value parsed as JSON, else taken as a string) to `config`.
void apply_override(nlohmann::json& config, const std::string& assignment);

// Everything a run needs, built from its config.
struct TrainingSetup {
  nlohmann::json config;
  std::shared_ptr<const DatasetContents> contents;
  std::shared_ptr<const Dataset> train, validation, test;  // validation and test may be null (no pictures)
  LoaderOptions loader;
  std::unique_ptr<Model> model;
  std::unique_ptr<Loss> loss;
  std::unique_ptr<Sgd> sgd;
  std::unique_ptr<LrSchedule> schedule;
  TrainerOptions trainer;
};

// Reads the data, builds and initialises the model (loading "init" weights), and the optimizer;
// prints what it does to stderr. Throws naming the field that is wrong.
TrainingSetup prepare_training(const nlohmann::json& config);

// The metadata a weights file carries so that tools can use it alone: the model config, the
// preprocessing, the output names and categories ("i2v.model_config", "i2v.preprocess",
// "i2v.outputs").
std::map<std::string, std::string> model_metadata(const TrainingSetup& setup);

// Loads `path` into `model` except the `restart` layers, which are re-initialised from `seed`.
// Not `strict`: the model's own initial values stay where the file has none, and the file's
// extra tensors are ignored. `strict` ("init": {"strict": true}): apart from the restarted layers,
// the file must hold exactly the model's tensors with their shapes (optional buffers such as
// BatchNorm's num_batches_tracked may be absent: nn/model.h) — the error names the file and
// every missing, unexpected and mis-shaped tensor. Prints what was loaded.
void load_initial_weights(Model& model, const std::string& path, const std::vector<std::string>& restart,
                          uint64_t seed, bool strict = false);

// Trains `setup` with the training loop (train/trainer.h) on its train and validation splits,
// after writing <run>/config.json (the resolved config, its paths relative to the run
// directory): what `i2v train` does. `resume` continues from the run directory's newest
// checkpoint.
TrainResult run_training(TrainingSetup& setup, bool resume);

// The fields of a training config that name files: "run", "model.config" (and "model.name" when
// it names a file), "init.weights", "data.metadata" (one or a list), "data.images",
// "data.vocab", "data.folders", "data.auxiliary.NAME.features" and ".ids". Calls `visit` with
// each path (a string in `config`, which it may change) and its dotted field name.
void for_each_config_path(nlohmann::json& config,
                          const std::function<void(nlohmann::json& path, const std::string& field)>& visit);
// A config's relative paths (as they open from the current directory) made relative to `folder`,
// as the run's config.json keeps them (base/relative_path.h); absolute ones stay.
nlohmann::json config_paths_relative_to(nlohmann::json config, const std::string& folder);
// The opposite, for a config read from a file in `folder` (a run's config.json): its relative
// paths as they open from the current directory.
nlohmann::json config_paths_resolved_from(nlohmann::json config, const std::string& folder);
// A run directory's config.json, its paths as they open from the current directory.
nlohmann::json read_run_config(const std::string& run_directory);

}  // namespace i2v
