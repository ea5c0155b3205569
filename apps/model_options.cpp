#include "apps/model_options.h"

#include "apps/option_checks.h"
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

}  // namespace i2v::app
