// `i2v eval`: how good a trained model is on a split: mAP per tag category against the trivial
// baseline and per-tag AP (the paper's Tables 2 and 3), precision/recall at 0.5 — or, for a
// classifier, top-1/top-5 accuracy and the confusion matrix.
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "base/atomic_file.h"
#include "base/file.h"
#include "train/metrics.h"
#include "train/tagging.h"
#include "train/training_config.h"

namespace i2v::app {
namespace {

struct EvalOptions {
  std::string run, weights, split = "test", json_path;
  DeviceOptions device;
  DataSourceOptions source;
  int top = 20;
  int64_t batch = 32;
  int workers = 2;
};

nlohmann::json classifier_report(const Evaluation& e, const std::vector<ModelOutput>& outputs, std::string& text) {
  const TopK top1 = top_k_accuracy(e.scores, e.class_labels, e.samples, e.classes, 1);
  const TopK top5 = top_k_accuracy(e.scores, e.class_labels, e.samples, e.classes, std::min<int>(5, int(e.classes)));
  const auto confusion = confusion_matrix(e.scores, e.class_labels, e.samples, e.classes);
  text += fmt::format("{} pictures, {} classes: top-1 {:.4f}, top-5 {:.4f}, loss {:.4f}\n{:<24} {:>8} {:>8}\n", e.samples,
                      e.classes, top1.overall, top5.overall, e.loss, "class", "top-1", "top-5");
  nlohmann::json classes = nlohmann::json::array();
  for (int64_t c = 0; c < e.classes; ++c) {
    const std::string name = size_t(c) < outputs.size() ? outputs[size_t(c)].name : std::to_string(c);
    text += fmt::format("{:<24} {:>8.4f} {:>8.4f}\n", name, top1.per_class[size_t(c)], top5.per_class[size_t(c)]);
    classes.push_back({{"class", name}, {"top1", top1.per_class[size_t(c)]}, {"top5", top5.per_class[size_t(c)]}});
  }
  return {{"samples", e.samples}, {"loss", e.loss}, {"top1", top1.overall}, {"top5", top5.overall},
          {"per_class", classes}, {"confusion", confusion}};
}

void run_eval(const EvalOptions& o) {
  const Device device = o.device.apply();
  std::string weights = o.weights;
  std::shared_ptr<const DatasetContents> contents;
  nlohmann::json data = nlohmann::json::object();  // with --run: its data section
  CommandFiles files;
  if (!o.run.empty()) {
    if (weights.empty()) weights = o.run + "/best.safetensors";
    const nlohmann::json config = read_run_config(o.run);  // its paths are relative to the run directory
    data = config.value("data", nlohmann::json::object());
    files.input("--run", o.run + "/config.json");
    add_config_inputs(files, config);
  } else {
    I2V_CHECK(!weights.empty(), "give --run DIR, or --weights W and the data (--metadata/--images/--vocab or --folders)");
    add_inputs(files, o.source);
  }
  files.input("--weights", weights).output("--json", o.json_path);
  files.check();
  contents = o.run.empty() ? o.source.read() : read_data(data);
  TrainedModel trained = load_trained_model(weights, device);
  if (!trained.outputs.empty()) {
    I2V_CHECK(trained.outputs.size() == contents->class_names.size(),
              "{} has {} outputs, the data {} classes (use the vocabulary the model was trained with)", weights,
              trained.outputs.size(), contents->class_names.size());
    for (size_t i = 0; i < trained.outputs.size(); ++i)
      I2V_CHECK(trained.outputs[i].name == contents->class_names[i],
                "output {} of {} is '{}', the data's is '{}': not the vocabulary the model was trained with", i, weights,
                trained.outputs[i].name, contents->class_names[i]);
  } else {
    for (size_t i = 0; i < contents->class_names.size(); ++i)
      trained.outputs.push_back({contents->class_names[i], i < contents->class_categories.size()
                                                               ? tag_category_name(contents->class_categories[i]) : ""});
  }
  DatasetOptions options;
  options.preprocess = trained.preprocess;
  options.auxiliary = read_auxiliary(data.value("auxiliary", nlohmann::json::object()));  // a -gcn model's captions
  auto dataset = std::make_shared<const Dataset>(contents, o.split == "all" ? std::nullopt
                                                                            : std::optional<Split>(parse_split(o.split)),
                                                 options);
  LoaderOptions loader_options;
  loader_options.batch_size = o.batch;
  loader_options.workers = o.workers;
  loader_options.shuffle = false;
  DataLoader loader(dataset, loader_options);
  std::unique_ptr<Loss> loss;
  if (dataset->target_kind() == TargetKind::multi_label) loss = std::make_unique<BCEWithLogits>();
  else loss = std::make_unique<CrossEntropy>();
  const Evaluation evaluation = evaluate(*trained.model, *loss, loader, device, "evaluate " + o.split);
  std::string text;
  nlohmann::json report;
  if (evaluation.kind == TargetKind::multi_label) {
    const TagEvaluation tags = evaluate_tags(evaluation, trained.outputs);
    text = to_text(tags, o.top);
    report = to_json(tags);
    report["loss"] = evaluation.loss;
  } else {
    report = classifier_report(evaluation, trained.outputs, text);
  }
  report["weights"] = weights;
  report["split"] = o.split;
  std::fputs(text.c_str(), stdout);
  if (!o.json_path.empty()) {
    write_file_atomically(o.json_path, report.dump(2) + "\n");
    std::printf("wrote %s\n", o.json_path.c_str());
  }
}

void add_eval_command(CLI::App& app) {
  static EvalOptions o;
  CLI::App* cmd = app.add_subcommand("eval", "Score a trained model on a split: mAP per tag category, or top-1/top-5");
  cmd->add_option("--run", o.run, "A run directory of i2v train: its config.json names the data, best.safetensors the weights");
  cmd->add_option("--weights", o.weights, "Weights to score (default with --run: DIR/best.safetensors)");
  o.source.add(cmd);
  cmd->add_option("--split", o.split, "train, val, test or all")->capture_default_str();
  cmd->add_option("--top", o.top, "Print the AP of this many most frequent tags")
      ->capture_default_str()->check(at_least(0));
  cmd->add_option("--json", o.json_path, "Also write the full report (every tag's AP) as JSON to this file");
  cmd->add_option("--batch", o.batch, "Pictures per batch")->capture_default_str()->check(at_least(1));
  cmd->add_option("--workers", o.workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  o.device.add(cmd);
  cmd->footer(
      "A tagger is scored by average precision per tag (scikit-learn's definition: ties enter\n"
      "together), averaged per category (general, character, copyright, rating) and over all tags\n"
      "that have a positive picture in the split (the others are left out and counted). The baseline\n"
      "column scores every picture by the tag's frequency. A classifier is scored by top-1 and top-5\n"
      "accuracy, overall and per class.\n\n"
      "Examples:\n"
      "  i2v eval --run runs/emoji-tag\n"
      "  i2v eval --weights w.safetensors --metadata dump/metadata.jsonl --images dump --vocab vocab.json --json eval.json");
  cmd->callback([] { run_eval(o); });
}

const bool registered = register_command("eval", add_eval_command);

}  // namespace
}  // namespace i2v::app
