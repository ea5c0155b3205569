// `i2v svm train|eval`: one-vs-rest SVMs on features from `i2v feature` (train/svm.h), scored
// with top-1 and top-5 precision per class and overall (train/precision_table.h).
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "train/feature_set.h"
#include "train/precision_table.h"
#include "train/svm.h"

namespace i2v::app {
namespace {

struct SvmTrainOptions {
  std::string features;
  std::string split = "train";
  std::string output;
  std::vector<std::string> kernels;
  std::vector<double> c, gamma;
  double coef0 = 0;
  int folds = 3;
  uint64_t seed = 1;
  bool force = false;
};

struct SvmEvalOptions {
  std::string svm;
  std::string features;
  std::string split = "test";
  std::string output;
  std::string name;
};

// A feature set is three files: FILE.npy, FILE.labels.npy, FILE.json.
void add_feature_inputs(CommandFiles& files, const std::string& features) {
  files.input("--features", features);
  if (features.size() > 4 && features.compare(features.size() - 4, 4, ".npy") == 0)
    files.input("--features", feature_labels_path(features)).input("--features", feature_description_path(features));
}

void run_svm_train(const SvmTrainOptions& o) {
  CommandFiles files;
  add_feature_inputs(files, o.features);
  files.output("-o", o.output, Existing::needs_force);
  files.check(o.force);
  SvmGrid grid;
  if (!o.kernels.empty()) {
    grid.kernels.clear();
    for (const std::string& kernel : o.kernels) grid.kernels.push_back(parse_svm_kernel(kernel));
  }
  if (!o.c.empty()) grid.c = o.c;
  if (!o.gamma.empty()) grid.gamma = o.gamma;
  grid.coef0 = o.coef0;
  grid.folds = o.folds;
  grid.seed = o.seed;
  grid = SvmGrid::from_json(grid.to_json());  // checks the values
  const FeatureSet train = read_feature_set(o.features).rows_of_split(o.split);
  I2V_CHECK(!train.classes.empty(), "{}: the features have no classes (pictures given as files?); an SVM needs an "
            "image folder's features", o.features);
  const OneVsRestSvm svm = train_svm(train, grid, o.output);
  std::printf("wrote %s: %zu one-vs-rest SVMs (%s), %lld support vectors of %lld features; cross-validated top-1 "
              "%.2f%%\n", o.output.c_str(), svm.classes().size(), svm.parameters().describe().c_str(),
              static_cast<long long>(svm.support_vectors()), static_cast<long long>(svm.dims()),
              100 * svm.about().at("search").at("best").at("cv_top1").get<double>());
}

void run_svm_eval(const SvmEvalOptions& o) {
  CommandFiles files;
  add_feature_inputs(files, o.features);
  files.input("--svm", o.svm);
  if (!o.output.empty())
    for (const char* suffix : {".json", ".csv", ".classes.csv"}) files.output("-o", o.output + suffix);
  files.check();
  const OneVsRestSvm svm = OneVsRestSvm::load(o.svm);
  const FeatureSet test = read_feature_set(o.features).rows_of_split(o.split);
  I2V_CHECK(test.classes == svm.classes(), "{} has other classes than the SVMs of {} ({} and {})", o.features, o.svm,
            test.classes.size(), svm.classes().size());
  PrecisionTable table(test.classes, test.labels);
  table.add(o.name.empty() ? "SVM (" + svm.parameters().describe() + ")" : o.name, svm.decision_values(test.features));
  std::printf("%s\n%s", table.per_class_text().c_str(), table.overall_text().c_str());
  if (o.output.empty()) return;
  table.save(o.output, {{"svm", o.svm}, {"features", o.features}, {"split", o.split}, {"parameters", svm.parameters().to_json()}});
  std::printf("wrote %s.json, %s.csv (overall), %s.classes.csv (per class)\n", o.output.c_str(), o.output.c_str(),
              o.output.c_str());
}

void add_svm_command(CLI::App& app) {
  CLI::App* svm = app.add_subcommand("svm", "One-vs-rest SVMs on features (from i2v feature): grid search, top-1/top-5 precision");
  svm->require_subcommand(1);
  svm->footer(
      "Examples:\n"
      "  i2v feature --weights runs/transfer/optimized/best.safetensors --folders curated -o fc7.npy\n"
      "  i2v svm train --features fc7.npy -o fc7-svm.safetensors\n"
      "  i2v svm eval --svm fc7-svm.safetensors --features fc7.npy -o fc7-test");

  static SvmTrainOptions t;
  CLI::App* train = svm->add_subcommand("train", "Grid search (k-fold cross-validation), then one SVM per class on the training rows");
  train->add_option("--features", t.features, "Features from `i2v feature` (FILE.npy, with FILE.labels.npy and FILE.json)")
      ->required();
  train->add_option("--split", t.split, "The rows to train on: train, val, test or all")->capture_default_str();
  train->add_option("-o,--output", t.output, "The SVMs (safetensors)")->required();
  add_force_flag(train, t.force);
  train->add_option("--kernels", t.kernels, "Kernels to search: rbf, sigmoid (default both)")->delimiter(',');
  train->add_option("--C", t.c, "C values to search (default 0.1,1,10,100,1000)")->delimiter(',')->check(above(0));
  train->add_option("--gamma", t.gamma, "gamma values to search (default 1e-5,1e-4,1e-3,1e-2,1e-1)")
      ->delimiter(',')->check(above(0));
  train->add_option("--coef0", t.coef0, "The sigmoid kernel's coef0")->capture_default_str()->check(finite_number());
  train->add_option("--folds", t.folds, "Cross-validation folds")->capture_default_str()->check(at_least(2));
  train->add_option("--seed", t.seed, "Seed of the folds")->capture_default_str();
  train->footer(
      "Features are scaled to [0, 1] per dimension by their minimum and maximum over the training rows\n"
      "(libsvm's guide). For every kernel, gamma and C, a one-vs-rest SVM (one binary C-SVM per class,\n"
      "libsvm) is trained on k-1 folds and scored on the held-out fold; the point with the best\n"
      "cross-validated top-1 precision wins, and its SVMs are trained on all the training rows.\n"
      "  rbf      K(x, y) = exp(-gamma |x - y|^2)\n"
      "  sigmoid  K(x, y) = tanh(gamma <x, y> + coef0)\n\n"
      "Examples:\n"
      "  i2v svm train --features fc7.npy -o fc7-svm.safetensors\n"
      "  i2v svm train --features fc7.npy --kernels rbf --C 1,10,100,1000 --gamma 1e-4,1e-3 -o rbf.safetensors");
  train->callback([] { run_svm_train(t); });

  static SvmEvalOptions e;
  CLI::App* eval = svm->add_subcommand("eval", "Top-1 and top-5 precision per class and overall (Tables 3 and 4 of Lagunas & Garces)");
  eval->add_option("--svm", e.svm, "SVMs from `i2v svm train`")->required();
  eval->add_option("--features", e.features, "Features from `i2v feature` (the same model and layer)")->required();
  eval->add_option("--split", e.split, "The rows to score: train, val, test or all")->capture_default_str();
  eval->add_option("-o,--output", e.output, "Also write OUTPUT.json, OUTPUT.csv and OUTPUT.classes.csv");
  eval->add_option("--name", e.name, "The classifier's name in the tables");
  eval->footer(
      "A picture counts for top-k when its class is among the k classes with the largest one-vs-rest\n"
      "decision values; a class's precision is the share of its pictures that count (the paper's\n"
      "per-class precision), \"global\" the share of all pictures. JSON and CSV hold fractions.\n\n"
      "Examples:\n"
      "  i2v svm eval --svm fc7-svm.safetensors --features fc7.npy\n"
      "  i2v svm eval --svm fc7-svm.safetensors --features fc7.npy --split val -o fc7-val");
  eval->callback([] { run_svm_eval(e); });
}

const bool registered = register_command("svm", add_svm_command);

}  // namespace
}  // namespace i2v::app
