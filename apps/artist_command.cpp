// `i2v artist pairs`: the artist paper's Table 1 — a classifier trained from scratch for every
// pair of artists (class folders), its test accuracy as a matrix (text and CSV), and one
// classifier over all artists with its confusion matrix (train/artist_pairs.h).
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "train/artist_pairs.h"
#include "base/atomic_file.h"
#include "base/file.h"
#include "train/training_config.h"

namespace i2v::app {
namespace {

struct PairsOptions {
  std::string data, model = "artist-conv2d", config, run = "runs/artist-pairs", csv, json_path;
  std::string crop = "center", resize = "direct", fractions = "0.8,0.1,0.1";
  DeviceOptions device;
  std::vector<std::string> artists, overrides;
  int size = 64, epochs = 10, workers = 2;
  int64_t batch = 16;
  double lr = 0.01, width = 1.0;
  bool hflip = true;
};

nlohmann::json base_config(const PairsOptions& o) {
  nlohmann::json config;
  if (!o.config.empty()) {
    try {
      config = nlohmann::json::parse(read_file(o.config));
    } catch (const nlohmann::json::exception& e) {
      I2V_THROW("{}: not a JSON training config: {}", o.config, e.what());
    }
  } else {
    config = {{"seed", 1},
              {"model", {{"name", o.model}, {"width", o.width}}},
              {"data",
               {{"split_fractions", o.fractions},
                {"preprocess", {{"size", o.size}, {"resize", o.resize}, {"crop", o.crop}}},
                {"augment", {{"hflip", o.hflip}}},
                {"batch_size", o.batch},
                {"workers", o.workers}}},
              {"optimizer", {{"momentum", 0.9}, {"weight_decay", 1e-4}}},
              {"schedule", {{"lr", o.lr}}},
              {"epochs", o.epochs}};
  }
  config["run"] = o.run;
  config["device"] = o.device.device;
  config["precision"] = o.device.precision;
  config["data"]["folders"] = o.data;
  for (const std::string& assignment : o.overrides) apply_override(config, assignment);
  return config;
}

void run_pairs(const PairsOptions& o) {
  const nlohmann::json base = base_config(o);
  const std::string csv = o.csv.empty() ? o.run + "/pairs.csv" : o.csv;
  const std::string json_path = o.json_path.empty() ? o.run + "/pairs.json" : o.json_path;
  CommandFiles files;
  files.input("--config", o.config);
  add_config_inputs(files, base);
  files.output_folder("--run", o.run).output("--csv", csv).output("--json", json_path);
  files.check();
  const ArtistPairs result = artist_pairs(base, o.artists, [](const ArtistScore& s) {
    std::string names;
    for (const std::string& c : s.classes) names += (names.empty() ? "" : ", ") + c;
    std::fprintf(stderr, "artists %s: test accuracy %.3f on %lld samples (%lld trained), %.1f s\n", names.c_str(),
                 s.accuracy, static_cast<long long>(s.test_samples), static_cast<long long>(s.train_samples),
                 s.seconds);
  });
  std::fputs(artist_pairs_table(result).c_str(), stdout);
  write_file_atomically(csv, artist_pairs_csv(result));
  write_file_atomically(json_path, artist_pairs_json(result).dump(2) + "\n");
  std::printf("wrote %s and %s\n", csv.c_str(), json_path.c_str());
}

void add_artist_command(CLI::App& app) {
  static PairsOptions o;
  CLI::App* artist = app.add_subcommand("artist", "Artist identification (the artist paper): pairwise classifiers");
  artist->require_subcommand(1);
  CLI::App* cmd = artist->add_subcommand("pairs", "Train a classifier per pair of artists; print the accuracy matrix");
  cmd->add_option("--data", o.data, "Image folder: <DIR>/<artist>/<picture>")->required();
  cmd->add_option("--model", o.model, "A shipped model (artist-conv2d, resnet14, ...) or a model config file")
      ->capture_default_str();
  cmd->add_option("--config", o.config, "A training config to start from instead of the options below");
  cmd->add_option("--run", o.run, "Directory of the runs (<run>/<a>-vs-<b>, <run>/all), pairs.csv, pairs.json")
      ->capture_default_str();
  cmd->add_option("--artists", o.artists, "Only these artists (default: every class folder)")->delimiter(',');
  cmd->add_option("--size", o.size, "Input size in pixels")->capture_default_str()->check(at_least(1));
  cmd->add_option("--resize", o.resize, "direct (rescale to a fixed size) or shorter_side")->capture_default_str();
  cmd->add_option("--crop", o.crop, "center, random or quarters (each picture gives its four 2x2 parts)")
      ->capture_default_str();
  cmd->add_option("--hflip", o.hflip, "Random horizontal flips in training")->capture_default_str();
  cmd->add_option("--width", o.width, "Channel multiplier of the model")->capture_default_str()->check(above(0));
  cmd->add_option("--epochs", o.epochs, "Epochs per classifier")->capture_default_str()->check(at_least(1));
  cmd->add_option("--lr", o.lr, "Learning rate (SGD, momentum 0.9, weight decay 1e-4)")
      ->capture_default_str()->check(above(0));
  cmd->add_option("--batch", o.batch, "Pictures per batch")->capture_default_str()->check(at_least(1));
  cmd->add_option("--workers", o.workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  cmd->add_option("--split-fractions", o.fractions, "Train, val, test fractions")->capture_default_str();
  o.device.add(cmd);
  cmd->add_option("--set", o.overrides, "Override a field of the training config, e.g. --set seed=3")->take_all();
  cmd->add_option("--csv", o.csv, "Write the pairwise matrix here (default <run>/pairs.csv)");
  cmd->add_option("--json", o.json_path, "Also write everything as JSON to this file (default <run>/pairs.json)");
  cmd->footer(
      "For n artists, n(n-1)/2 binary classifiers and one n-way classifier are trained from scratch\n"
      "with softmax cross-entropy, each an ordinary i2v train run restricted to its artists\n"
      "(data.classes), each artist's pictures split by the same fractions. Each is scored on its test\n"
      "split with the weights of its best validation accuracy.\n\n"
      "Examples:\n"
      "  i2v artist pairs --data emoji-by-vendor --model artist-conv2d --size 64 --epochs 8\n"
      "  i2v artist pairs --data art --model resnet14 --width 0.25 --crop quarters --run runs/art\n"
      "  i2v artist pairs --data art --config runs/art/all/config.json --set epochs=3");
  cmd->callback([] { run_pairs(o); });
}

const bool registered = register_command("artist", add_artist_command);

}  // namespace
}  // namespace i2v::app
