// `i2v transfer`: Lagunas & Garces' experiment in one command (train/transfer.h): train as a
// config says, then the top-1/top-5 precision of each network's softmax and of SVMs on its
// features — with pre-trained weights, the rows of the paper's Table 3.
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "base/error.h"
#include "base/file.h"
#include "train/training_config.h"
#include "train/transfer.h"

namespace i2v::app {
namespace {

struct TransferOptions {
  std::string config;
  std::string weights;
  std::string run;
  std::vector<std::string> overrides;
  bool resume = false;
};

void run_transfer_command(const TransferOptions& o) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(o.config));
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: not a JSON training config: {}", o.config, e.what());
  }
  if (!o.weights.empty()) config["init"]["weights"] = o.weights;
  if (!o.run.empty()) config["run"] = o.run;
  for (const std::string& assignment : o.overrides) apply_override(config, assignment);
  CommandFiles files;
  files.input("--config", o.config);
  add_config_inputs(files, config);
  if (config.contains("run") && config["run"].is_string()) {
    const std::string run = config["run"].get<std::string>();
    files.output_folder("the run directory", run);
    for (const char* name : {"/transfer.json", "/transfer.csv", "/transfer.classes.csv"})
      files.output("the run directory", run + name);
  }
  files.check();
  const PrecisionTable table = run_transfer(config, o.resume);
  const std::string prefix = config.at("run").get<std::string>() + "/transfer";
  std::printf("\n%s\n%s", table.per_class_text().c_str(), table.overall_text().c_str());
  std::printf("wrote %s.json (with every run's details), %s.csv (overall), %s.classes.csv (per class)\n", prefix.c_str(),
              prefix.c_str(), prefix.c_str());
}

void add_transfer_command(CLI::App& app) {
  static TransferOptions o;
  CLI::App* cmd = app.add_subcommand(
      "transfer", "Transfer learning (Lagunas & Garces): fine-tune, then top-1/top-5 of the softmax and of SVMs on fc7");
  cmd->add_option("--config", o.config, "A training config (configs/vgg19-transfer.json is the paper's)")->required();
  cmd->add_option("--weights", o.weights, "Pre-trained weights (sets init.weights): gives the rows of the paper's Table 3");
  cmd->add_option("--run", o.run, "Run directory (overrides the config's \"run\")");
  cmd->add_option("--set", o.overrides, "Override a config field by its dotted path, e.g. --set epochs=5")->take_all();
  cmd->add_flag("--resume", o.resume, "Continue interrupted trainings (finished ones are not trained again)");
  cmd->footer(
      "With pre-trained weights, five rows on the same test pictures:\n"
      "  baseline network    the weights fine-tuned the usual way (new classifier, every layer at the base rate;\n"
      "                      the config's \"transfer.baseline\" overrides), scored by its softmax\n"
      "  baseline + SVM      one-vs-rest SVMs on that network's fc7 features\n"
      "  optimized network   the config as it is (vgg19-transfer.json: layers 1-10 and 17-19 restarted at 1e-2,\n"
      "                      11-16 at 1e-4), scored by its softmax\n"
      "  optimized + SVM     SVMs on its fc7 features\n"
      "  pre-trained + SVM   SVMs on the fc7 features of the weights as given (the paper's Baseline VGG19 + SVM)\n"
      "Without weights: \"network\" and \"network + SVM\" for the config as it is. Each network trains on the\n"
      "train split (its validation split drives the plateau schedule and picks the best weights); the\n"
      "SVMs' C and gamma (and kernel) come from a 3-fold cross-validated grid search on the train split;\n"
      "everything is tested on the test split. Writes RUN/<baseline|optimized|network>/ (training run,\n"
      "features.npy, svm.safetensors), RUN/pretrained/, RUN/transfer.json, transfer.csv, transfer.classes.csv.\n\n"
      "Examples:\n"
      "  i2v transfer --config configs/vgg19-transfer.json --weights vgg19-imagenet.safetensors \\\n"
      "      --set data.folders=curated --run runs/curated\n"
      "  i2v transfer --config configs/emoji-vgg19-transfer.json --weights runs/emoji-pretrain/best.safetensors\n"
      "  i2v transfer --config configs/emoji-vgg19-transfer.json --resume");
  cmd->callback([] { run_transfer_command(o); });
}

const bool registered = register_command("transfer", add_transfer_command);

}  // namespace
}  // namespace i2v::app
