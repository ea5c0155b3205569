// `i2v model`: what a network is made of — layers, shapes, parameters, FLOPs, memory — and its
// JSON config.
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/model_options.h"
#include "apps/option_checks.h"
#include "nn/model_config.h"
#include "base/atomic_file.h"

namespace i2v::app {
namespace {

void add_model_command(CLI::App& app) {
  CLI::App* group = app.add_subcommand("model", "Inspect models: layer-by-layer summary, JSON configs");
  group->require_subcommand(1);

  static ModelOptions summary_options;
  static int64_t batch = 1;
  CLI::App* summary = group->add_subcommand("summary", "Each layer's output shape, parameters, FLOPs and activation memory");
  summary_options.add(summary);
  summary->add_option("--batch", batch, "Batch size the FLOPs and memory are counted for")
      ->capture_default_str()->check(at_least(1));
  summary->footer(
      "FLOPs count a multiply-add as 2. \"activations\" is the memory of each layer's output for the\n"
      "batch: a training step keeps about all of them for the backward pass (in bf16 at half the\n"
      "bytes), inference only a few.\n\n"
      "Examples:\n"
      "  i2v model summary --model i2v-tag\n"
      "  i2v model summary --model i2v-tag --input-size 64 --width 0.25 --outputs 1029 --batch 32\n"
      "  i2v model summary --model configs/artist-conv2d.json --input-size 128");
  summary->callback([] { std::fputs(build_model(summary_options.config()).summary_table(batch).c_str(), stdout); });

  static ModelOptions export_options;
  static std::string output;
  static bool force = false;
  CLI::App* exporter = group->add_subcommand("export", "Write a shipped model's JSON config (to edit, or to train from)");
  export_options.add(exporter);
  exporter->add_option("-o,--output", output, "The JSON file to write")->required();
  add_force_flag(exporter, force);
  exporter->footer("Example:\n  i2v model export --model vgg11-fc --outputs 100 -o my-vgg.json");
  exporter->callback([] {
    CommandFiles files;
    add_model_input(files, "--model", export_options.model);
    files.output("-o", output, Existing::needs_force);
    files.check(force);
    const nlohmann::json config = export_options.config();
    build_model(config);  // refuse to write a config that does not build
    write_file_atomically(output, config.dump(2) + "\n");
    std::printf("wrote %s\n", output.c_str());
  });

  CLI::App* list = group->add_subcommand("list", "The shipped models and the layer types configs may use");
  list->callback([] {
    std::printf("shipped models:");
    for (const std::string& name : zoo_model_names()) std::printf(" %s", name.c_str());
    std::printf("\nlayer types:");
    for (const std::string& type : layer_types()) std::printf(" %s", type.c_str());
    std::printf("\n");
  });
}

const bool registered = register_command("model", add_model_command);

}  // namespace
}  // namespace i2v::app
