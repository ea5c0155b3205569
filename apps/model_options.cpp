#include "apps/model_options.h"

#include "apps/option_checks.h"
#include "base/error.h"
#include "nn/model_config.h"

namespace i2v::app {

void ModelOptions::add(CLI::App* command, bool required) {
  std::string names;
  for (const std::string& name : zoo_model_names()) names += (names.empty() ? "" : ", ") + name;
  CLI::Option* option = command->add_option("--model", model, "A shipped model (" + names + ") or a JSON config file");
  if (required) option->required();
  command->add_option("--outputs", zoo.outputs, "Tags or classes of the last layer (default: the model's own)")
      ->check(at_least(1));
  command->add_option("--input-size", zoo.input_size, "Side of the square input, pixels")
      ->capture_default_str()->check(at_least(1));
  command->add_option("--width", zoo.width, "Multiplier of the hidden layers' channels (shipped models)")
      ->capture_default_str()->check(above(0));
}

nlohmann::json ModelOptions::config() const { return resolve_model_config(model, zoo); }

ModelChoice ModelOptions::choice_for(const CLI::App& command, const std::string& weights) const {
  ModelChoice choice;
  if (command.count("--model")) {
    choice.model = model;
    choice.zoo = zoo;
    return choice;
  }
  for (const char* option : {"--width", "--outputs"})
    I2V_CHECK(command.count(option) == 0,
              "{} sizes a model given by --model; {} holds its model with its own width and outputs (give --model "
              "too to build another, which the weights must then fit)",
              option, weights);
  I2V_CHECK(weights_record_model(weights), "{}: the file does not say which model it holds (no i2v.model_config "
            "metadata): name one with --model", weights);
  if (command.count("--input-size")) choice.input_size = zoo.input_size;
  return choice;
}

}  // namespace i2v::app
