// Lagunas & Garces' transfer-learning experiment as one run (`i2v transfer`): train networks as
// a training config says, then score each on the test split from its softmax and from
// one-vs-rest SVMs on its features (train/svm.h) — the rows of the paper's Table 3, with the
// per-class numbers of its Table 4.
//
// With pre-trained weights ("init": {"weights": ...}) the config is the "optimized" network (its
// own restarts and per-layer rates: configs/vgg19-transfer.json is the paper's), and a "baseline"
// network is the same config with the overrides of "transfer.baseline" (by default: only the
// new classifier restarted, every layer at the base rate — the usual fine-tuning). The rows:
//   baseline network     top-1/top-5 of the fine-tuned baseline's softmax
//   baseline + SVM       SVMs on the fine-tuned baseline's features
//   optimized network    the optimized network's softmax
//   optimized + SVM      SVMs on the optimized network's features
//   pre-trained + SVM    SVMs on the features of the weights as given, before any training (the
//                        paper's "Baseline VGG19 + SVM", whose network was not fine-tuned)
// Without pre-trained weights: "network" and "network + SVM" for the config as it is.
//
// Every row scores the same test pictures: the network is trained on the train split (its
// validation split drives the plateau schedule and picks the best weights), the SVMs' grid search
// cross-validates on the same train split, and all are tested on the test split. The paper's
// splits are 80/20 train(+val)/test and 64/16/20 train/val/test: data.split_fractions
// "0.64,0.16,0.2" is both.
//
// The config's "transfer" section (all optional):
//   {"features": "fc7",                                   the layer the SVMs read (train/inference.h)
//    "baseline": {"init.restart": ["classifier.6"], "optimizer.layers": []},   dotted-path overrides
//    "svm": {"kernels": ["rbf", "sigmoid"], "C": [...], "gamma": [...], "folds": 3, "seed": 1}}
//
// Written into the run directory: <variant>/ (the training run: checkpoints, metrics.jsonl,
// best.safetensors), <variant>/features.npy (+ .labels.npy, .json: every split's features),
// <variant>/svm.safetensors, pretrained/ (the same for the weights as given), and
// transfer.json, transfer.csv (Table 3), transfer.classes.csv (Table 4).
#pragma once

#include <nlohmann/json.hpp>

#include "base/config_fields.h"
#include "train/precision_table.h"

namespace i2v {

// Runs the experiment `config` (a training config with a "run" directory) describes; `resume`
// continues interrupted training runs (finished ones are not trained again).
PrecisionTable run_transfer(const nlohmann::json& config, bool resume);

// The baseline's config: `config` with the "transfer.baseline" overrides.
nlohmann::json baseline_config(const nlohmann::json& config);

// The fields of the "transfer" section, as docs/training.md lists them.
std::vector<ConfigFieldInfo> transfer_fields();

}  // namespace i2v
