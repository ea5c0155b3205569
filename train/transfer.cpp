#include "train/transfer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "base/error.h"
#include "nn/safetensors.h"
#include "base/atomic_file.h"
#include "train/evaluate.h"
#include "train/feature_set.h"
#include "base/progress.h"
#include "train/svm.h"
#include "train/training_config.h"

namespace i2v {
namespace {

using nlohmann::json;

// The config's "transfer" section (train/transfer.h).
struct TransferFields {
  std::string features;  // the layer the SVMs read
  json baseline;         // dotted-path overrides that make the baseline's config
  json svm;              // the SVMs' grid (SvmGrid)
};

const ConfigSection<TransferFields>& transfer_section() {
  static const ConfigSection<TransferFields> fields = {
      {"features", "fc7", &TransferFields::features},
      {"baseline", json{{"init.restart", {"classifier.6"}}, {"optimizer.layers", json::array()}},
       &TransferFields::baseline},
      {"svm", json::object(), &TransferFields::svm},
  };
  return fields;
}

TransferFields read_transfer(const json& config) {
  TransferFields transfer;
  transfer_section().read(config.value("transfer", json::object()), "transfer", transfer);
  return transfer;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One row of Table 3 before the table exists: its scores on the test pictures, in order.
struct ScoredRow {
  std::string name;
  std::vector<float> scores;
  std::vector<int64_t> labels;
};

// Every split's features of the pictures of `setup`'s dataset, at `layer`.
FeatureSet all_features(TrainingSetup& setup, const std::string& layer, const std::string& progress_label) {
  auto pictures = std::make_shared<const Dataset>(setup.contents, std::nullopt, setup.test->options());
  return extract_features(*setup.model, pictures, setup.trainer.device, layer, setup.loader.batch_size,
                          setup.loader.workers, progress_label);
}

// SVMs on the train rows of `features`, scored on its test rows; features and SVMs are saved in
// `directory`.
ScoredRow svm_row(const std::string& name, const FeatureSet& features, const SvmGrid& grid, const std::string& directory,
                  json& summary) {
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "\n== %s ==\n", name.c_str());
  const OneVsRestSvm svm = train_svm(features.rows_of_split("train"), grid, directory + "/svm.safetensors");
  const FeatureSet test = features.rows_of_split("test");
  summary[name] = {{"svm", directory + "/svm.safetensors"},
                   {"parameters", svm.parameters().to_json()},
                   {"cv_top1", svm.about().at("search").at("best").at("cv_top1")},
                   {"support_vectors", svm.support_vectors()},
                   {"seconds", seconds_since(start)}};
  return {name, svm.decision_values(test.features), test.labels};
}

// What the variants add up to.
struct Experiment {
  std::string run;
  bool resume = false;
  std::vector<std::string> classes;
  std::vector<ScoredRow> rows;
  std::optional<ScoredRow> pretrained;
  json summary;
};

// Trains one variant, then scores its softmax ("<variant> network", or "network") and its
// features' SVMs ("<variant> + SVM") on the test split (and, with `pretrained_row`, first the
// SVMs on the features of the initial weights).
void run_variant(const std::string& variant, json config, bool pretrained_row, Experiment& experiment) {
  const std::string& run = experiment.run;
  json& summary = experiment.summary;
  const TransferFields transfer = read_transfer(config);
  const std::string& layer = transfer.features;
  const SvmGrid grid = SvmGrid::from_json(transfer.svm);
  const std::string directory = run + "/" + variant;
  config["run"] = directory;
  std::fprintf(stderr, "\n== %s: training in %s ==\n", variant.c_str(), directory.c_str());
  TrainingSetup setup = prepare_training(config);
  I2V_CHECK(setup.test, "transfer: the test split is empty; give data.split_fractions a test share, e.g. \"0.64,0.16,0.2\"");
  experiment.classes = setup.train->class_names();

  if (pretrained_row) {
    // The weights as given, before the baseline's training changes them.
    const std::string pretrained_directory = run + "/pretrained";
    std::filesystem::create_directories(pretrained_directory);
    const FeatureSet features = all_features(setup, layer, "features (pre-trained)");
    write_feature_set(pretrained_directory + "/features.npy", features);
    experiment.pretrained = svm_row("pre-trained + SVM", features, grid, pretrained_directory, summary["rows"]);
  }

  auto start = std::chrono::steady_clock::now();
  const TrainResult trained = run_training(setup, experiment.resume);
  if (trained.interrupted)
    throw Interrupted(trained.stop_signal, fmt::format("transfer: training of {} was interrupted by signal {}; continue "
                                                       "with --resume", variant, trained.stop_signal));
  const std::string best = directory + "/best.safetensors";
  const bool has_best = trained.best_step >= 0 && std::filesystem::exists(best);
  setup.model->load_state_dict(load_safetensors(has_best ? best : directory + "/final.safetensors").tensors);
  summary["variants"][variant] = {{"run", directory},
                                  {"steps", trained.steps},
                                  {"epochs", trained.epochs_completed},
                                  {"weights", has_best ? best : directory + "/final.safetensors"},
                                  {"best_validation_top1", has_best ? json(trained.best_score) : json()},
                                  {"best_step", trained.best_step},
                                  {"seconds", seconds_since(start)}};

  start = std::chrono::steady_clock::now();
  LoaderOptions options = setup.loader;
  options.shuffle = false;
  DataLoader test_loader(setup.test, options);
  const Evaluation evaluation = evaluate(*setup.model, *setup.loss, test_loader, setup.trainer.device, "test " + variant);
  const std::string network = variant == "network" ? variant : variant + " network";
  experiment.rows.push_back({network, evaluation.scores, evaluation.class_labels});
  summary["rows"][network] = {{"weights", summary["variants"][variant]["weights"]}, {"seconds", seconds_since(start)}};

  const FeatureSet features = all_features(setup, layer, "features (" + variant + ")");
  write_feature_set(directory + "/features.npy", features);
  experiment.rows.push_back(svm_row(variant + " + SVM", features, grid, directory, summary["rows"]));
}

}  // namespace

std::vector<ConfigFieldInfo> transfer_fields() { return transfer_section().fields(); }

json baseline_config(const json& config) {
  json baseline = config;
  const json overrides = read_transfer(config).baseline;
  I2V_CHECK(overrides.is_object(), "config field transfer.baseline: an object of dotted paths and values, e.g. "
            "{{\"schedule.lr\": 0.001}}, got {}", overrides.dump());
  for (const auto& [path, value] : overrides.items()) apply_override(baseline, path + "=" + value.dump());
  return baseline;
}

PrecisionTable run_transfer(const json& config, bool resume) {
  I2V_CHECK(config.is_object() && config.contains("run"), "transfer: the config needs a run directory (\"run\")");
  const std::string run = config.at("run").get<std::string>();
  std::filesystem::create_directories(run);
  const bool pretrained = config.value("init", json::object()).contains("weights");
  const auto start = std::chrono::steady_clock::now();

  Experiment experiment;
  experiment.run = run;
  experiment.resume = resume;
  experiment.summary = {{"config", config}, {"rows", json::object()}, {"variants", json::object()}};
  if (pretrained) {
    run_variant("baseline", baseline_config(config), true, experiment);
    run_variant("optimized", config, false, experiment);
    experiment.rows.push_back(*experiment.pretrained);
  } else {
    run_variant("network", config, false, experiment);
  }

  const std::vector<ScoredRow>& rows = experiment.rows;
  PrecisionTable table(experiment.classes, rows.front().labels);
  for (const ScoredRow& row : rows) {
    I2V_CHECK(row.labels == rows.front().labels, "transfer: the test pictures of '{}' differ from those of '{}' (a "
              "picture that failed to decode in one pass?)", row.name, rows.front().name);
    table.add(row.name, row.scores);
  }
  json& summary = experiment.summary;
  summary["seconds"] = seconds_since(start);
  table.save(run + "/transfer", summary);
  return table;
}

}  // namespace i2v
