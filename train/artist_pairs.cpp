#include "train/artist_pairs.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "base/error.h"
#include "nn/safetensors.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/training_config.h"

namespace i2v {

using nlohmann::json;

ArtistScore train_and_test(const json& config) {
  const auto start = std::chrono::steady_clock::now();
  TrainingSetup setup = prepare_training(config);
  const std::string run = config.at("run").get<std::string>();
  const TrainResult trained = run_training(setup, false);
  if (trained.interrupted)  // the remaining pairs would stop at once too: the whole command stops
    throw Interrupted(trained.stop_signal, fmt::format("artist pairs: training in {} was interrupted by signal {}",
                                                       run, trained.stop_signal));
  const std::string best = run + "/best.safetensors";
  if (std::filesystem::exists(best)) setup.model->load_state_dict(load_safetensors(best).tensors);

  DatasetOptions options;
  options.preprocess = data_preprocess(config.at("data"));
  auto test = std::make_shared<const Dataset>(setup.contents, Split::test, options);
  LoaderOptions loader_options = setup.loader;
  loader_options.shuffle = false;
  DataLoader loader(test, loader_options);
  const Evaluation evaluation = evaluate(*setup.model, *setup.loss, loader, setup.trainer.device);
  I2V_CHECK(evaluation.kind == TargetKind::class_index, "artist classifiers are single-label (an image folder)");

  ArtistScore score;
  score.classes = setup.contents->class_names;
  score.train_samples = setup.train->size();
  score.test_samples = evaluation.samples;
  score.accuracy = top_k_accuracy(evaluation.scores, evaluation.class_labels, evaluation.samples,
                                  evaluation.classes, 1).overall;
  score.confusion = confusion_matrix(evaluation.scores, evaluation.class_labels, evaluation.samples,
                                     evaluation.classes);
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return score;
}

ArtistPairs artist_pairs(const json& base, std::vector<std::string> artists,
                         const std::function<void(const ArtistScore&)>& done) {
  I2V_CHECK(base.is_object() && base.contains("run") && base.contains("data") && base.at("data").contains("folders"),
            "artist pairs: the base config needs \"run\" and \"data.folders\" (one folder per artist)");
  if (artists.empty()) {
    ImageFolderSource source;
    source.root = base.at("data").at("folders").get<std::string>();
    artists = read_image_folder(source).class_names;
  }
  I2V_CHECK(artists.size() >= 2, "artist pairs: {} artist(s), need at least 2", artists.size());
  const std::string root = base.at("run").get<std::string>();
  auto run = [&](const std::vector<std::string>& classes, const std::string& name) {
    json config = base;
    config["run"] = root + "/" + name;
    config["data"]["classes"] = classes;
    ArtistScore score = train_and_test(config);
    if (done) done(score);
    return score;
  };

  ArtistPairs result;
  result.artists = artists;
  const size_t n = artists.size();
  result.accuracy.assign(n, std::vector<double>(n, NAN));
  result.pairs.assign(n, std::vector<ArtistScore>(n));
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      result.pairs[a][b] = run({artists[a], artists[b]}, artists[a] + "-vs-" + artists[b]);
      result.accuracy[a][b] = result.accuracy[b][a] = result.pairs[a][b].accuracy;
    }
  }
  result.all = run(artists, "all");
  return result;
}

namespace {

double mean_pairwise(const ArtistPairs& r) {
  double sum = 0;
  int64_t count = 0;
  for (size_t a = 0; a < r.artists.size(); ++a)
    for (size_t b = a + 1; b < r.artists.size(); ++b, ++count) sum += r.accuracy[a][b];
  return count ? sum / double(count) : NAN;
}

}  // namespace

std::string artist_pairs_table(const ArtistPairs& r) {
  size_t width = 6;
  for (const std::string& a : r.artists) width = std::max(width, a.size());
  std::string text = fmt::format("pairwise test accuracy (row vs column):\n{:<{}}", "", width);
  for (const std::string& a : r.artists) text += fmt::format(" {:>{}}", a, width);
  text += "\n";
  for (size_t a = 0; a < r.artists.size(); ++a) {
    text += fmt::format("{:<{}}", r.artists[a], width);
    for (size_t b = 0; b < r.artists.size(); ++b)
      text += a == b ? fmt::format(" {:>{}}", "-", width) : fmt::format(" {:>{}.3f}", r.accuracy[a][b], width);
    text += "\n";
  }
  text += fmt::format("mean pairwise accuracy {:.3f}\n", mean_pairwise(r));
  text += fmt::format("all {} artists: test accuracy {:.3f} on {} samples; confusion (row: true, column: predicted):\n",
                      r.artists.size(), r.all.accuracy, r.all.test_samples);
  text += fmt::format("{:<{}}", "", width);
  for (const std::string& a : r.all.classes) text += fmt::format(" {:>{}}", a, width);
  text += "\n";
  for (size_t t = 0; t < r.all.confusion.size(); ++t) {
    text += fmt::format("{:<{}}", r.all.classes[t], width);
    for (int64_t count : r.all.confusion[t]) text += fmt::format(" {:>{}}", count, width);
    text += "\n";
  }
  return text;
}

std::string artist_pairs_csv(const ArtistPairs& r) {
  std::string csv = "artist";
  for (const std::string& a : r.artists) csv += "," + a;
  csv += "\n";
  for (size_t a = 0; a < r.artists.size(); ++a) {
    csv += r.artists[a];
    for (size_t b = 0; b < r.artists.size(); ++b) csv += a == b ? "," : fmt::format(",{:.4f}", r.accuracy[a][b]);
    csv += "\n";
  }
  return csv;
}

json artist_pairs_json(const ArtistPairs& r) {
  json pairs = json::array();
  for (size_t a = 0; a < r.artists.size(); ++a)
    for (size_t b = a + 1; b < r.artists.size(); ++b) {
      const ArtistScore& s = r.pairs[a][b];
      pairs.push_back({{"artists", {r.artists[a], r.artists[b]}}, {"accuracy", s.accuracy},
                       {"train_samples", s.train_samples}, {"test_samples", s.test_samples},
                       {"confusion", s.confusion}, {"seconds", s.seconds}});
    }
  return {{"artists", r.artists},
          {"pairs", pairs},
          {"mean_pairwise_accuracy", mean_pairwise(r)},
          {"all", {{"accuracy", r.all.accuracy}, {"train_samples", r.all.train_samples},
                   {"test_samples", r.all.test_samples}, {"confusion", r.all.confusion}, {"seconds", r.all.seconds}}}};
}

}  // namespace i2v
