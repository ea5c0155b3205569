// The options that name a model on the command line: a shipped model (nn/model_zoo.h) with its
// outputs, input size and width, or a JSON config file.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "nn/model_zoo.h"
#include "train/inference.h"

namespace i2v::app {

struct ModelOptions {
  std::string model = "i2v-tag";
  ZooOptions zoo;

  // --model, --outputs, --input-size, --width.
  void add(CLI::App* command, bool required = true);
  nlohmann::json config() const;
  // Which model to build for a weights file, every option of this group given on `command`
  // honoured or refused: with --model, that model built with --outputs, --input-size and --width
  // (the weights must then fit it); without, the file's own model, which must be recorded in it
  // and takes --input-size (global pooling takes any size) but keeps its own width and outputs.
  ModelChoice choice_for(const CLI::App& command, const std::string& weights) const;
};

}  // namespace i2v::app
