// `i2v feature`: a trained model's activations at one layer, one row per picture, as .npy with
// the pictures' classes (train/feature_set.h) — the fc7 features the SVMs of `i2v svm` classify,
// or any layer of any model.
#include <cstdio>
#include <filesystem>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "base/error.h"
#include "train/feature_set.h"
#include "train/inference.h"
#include "base/progress.h"

namespace i2v::app {
namespace {

struct FeatureOptions {
  PictureOptions pictures;
  std::string weights;
  std::string model;
  std::string layer = "fc7";
  std::string output;
  bool force = false;
};

void run_feature(const FeatureOptions& o) {
  CommandFiles files;
  add_inputs(files, o.pictures);
  files.input("--weights", o.weights);
  add_model_input(files, "--model", o.model);
  files.output("-o", o.output, Existing::needs_force)
      .output("-o", feature_labels_path(o.output), Existing::needs_force)
      .output("-o", feature_description_path(o.output), Existing::needs_force);
  files.check(o.force);
  const Device device = o.pictures.device.apply();
  I2V_CHECK(!o.model.empty() || weights_record_model(o.weights), "{}: the file does not say which model it holds (no "
            "i2v.model_config metadata): name one with --model", o.weights);
  TrainedModel trained = load_trained_model(o.weights, device, o.model);
  const auto dataset = o.pictures.open(trained.preprocess);
  std::fprintf(stderr, "model %s from %s; %s pictures, %s\n", trained.model->name().c_str(), o.weights.c_str(),
               format_count(dataset->size()).c_str(), dataset->preprocess().describe().c_str());

  FeatureSet set = extract_features(*trained.model, dataset, device, o.layer, o.pictures.batch, o.pictures.workers,
                                    "features");
  set.about["weights"] = o.weights;
  if (!o.pictures.pictures.empty()) {  // files: no classes, no splits
    set.classes.clear();
    set.labels.assign(set.labels.size(), -1);
    set.splits.assign(set.splits.size(), "");
  }
  write_feature_set(o.output, set);
  std::printf("wrote %s: float32 [%lld, %lld], layer %s of %s\n", o.output.c_str(),
              static_cast<long long>(set.features.rows), static_cast<long long>(set.features.dims),
              set.about.at("layer").get<std::string>().c_str(), trained.model->name().c_str());
  const std::string labels = set.classes.empty() ? "no labels (-1)" : fmt::format("{} classes", set.classes.size());
  std::printf("      %s: int64 [%lld], %s\n", feature_labels_path(o.output).c_str(),
              static_cast<long long>(set.features.rows), labels.c_str());
  std::printf("      %s: classes, and each picture's id, path and split\n", feature_description_path(o.output).c_str());
}

void add_feature_command(CLI::App& app) {
  static FeatureOptions o;
  CLI::App* cmd = app.add_subcommand("feature", "A trained model's activations at one layer, per picture, as .npy (e.g. fc7)");
  o.pictures.add(cmd);
  cmd->add_option("--weights", o.weights, "The model's weights (safetensors; i2v train writes the model into them)")
      ->required();
  cmd->add_option("--model", o.model,
                  "For weights without the model in their metadata (e.g. converted from torchvision): a shipped "
                  "model (vgg19, i2v-tag, ...) or a model config file");
  cmd->add_option("--layer", o.layer,
                  "The layer whose output is the feature: a layer name (classifier.4, encode1neuron, ...), or fc6 / "
                  "fc7 / fc8 for torchvision's VGG names")
      ->capture_default_str();
  cmd->add_option("-o,--output", o.output, "The features, FILE.npy; FILE.labels.npy and FILE.json go beside it")
      ->required();
  add_force_flag(cmd, o.force);
  cmd->footer(
      "Writes FILE.npy (float32 [N, D]: each picture's activations at the layer, flattened), FILE.labels.npy\n"
      "(int64 [N]: the class index; -1 for pictures given as files, and for dumps) and FILE.json (the\n"
      "layer, model, weights, the class names, and each row's picture: id, path, split). Pictures\n"
      "are preprocessed as the weights' metadata says; ones that cannot be decoded are skipped and\n"
      "reported. fc7 of VGG-19 is classifier.4: the second fully connected layer after its ReLU,\n"
      "4,096 values (fewer for a width-reduced model). Each row records its split (as every command\n"
      "splits: --split-fractions, default 0.8,0.1,0.1), so `i2v svm train` (train rows) and\n"
      "`i2v svm eval` (test rows) read one file; the paper's 64/16/20 is --split-fractions 0.64,0.16,0.2.\n\n"
      "Examples:\n"
      "  i2v feature --weights runs/transfer/optimized/best.safetensors --layer fc7 --folders curated -o fc7.npy\n"
      "  i2v feature --weights vgg19-imagenet.safetensors --model vgg19 --layer fc7 --folders curated -o fc7.npy\n"
      "  i2v feature pictures/ --weights runs/feature/best.safetensors --layer encode1neuron -o encode1.npy\n"
      "  python3 -c \"import numpy as np; x = np.load('fc7.npy'); y = np.load('fc7.labels.npy'); print(x.shape, y[:5])\"");
  cmd->callback([] { run_feature(o); });
}

const bool registered = register_command("feature", add_feature_command);

}  // namespace
}  // namespace i2v::app
