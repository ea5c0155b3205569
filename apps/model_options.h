// The options that name a model on the command line: a shipped model (nn/model_zoo.h) with its
// outputs, input size and width, or a JSON config file.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "nn/model_zoo.h"

namespace i2v::app {

struct ModelOptions {
  std::string model = "i2v-tag";
  ZooOptions zoo;

  // --model, --outputs, --input-size, --width.
  void add(CLI::App* command, bool required = true);
  nlohmann::json config() const;
};

}  // namespace i2v::app
