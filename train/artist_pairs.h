// Artist identification as the artist paper measures it (its Table 1): one classifier trained
// from scratch for every pair of artists, scored by test accuracy, and one over all of them with
// its confusion matrix. Artists are the class folders of an image folder; each classifier is an
// ordinary training run (train/training_config.h) of a base config restricted to its classes
// ("data.classes"), in its own run directory <base run>/<a>-vs-<b> (all: <base run>/all).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace i2v {

// One trained classifier scored on its test split with its best (else final) weights.
struct ArtistScore {
  std::vector<std::string> classes;
  int64_t train_samples = 0, test_samples = 0;
  double accuracy = 0;                          // top-1 on the test split
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  double seconds = 0;                           // training and testing
};

// Trains `config` (a training config with "run" and "data.folders") and tests it; the run
// directory gets config.json as i2v train writes it.
ArtistScore train_and_test(const nlohmann::json& config);

struct ArtistPairs {
  std::vector<std::string> artists;
  std::vector<std::vector<double>> accuracy;  // [a][b] = [b][a]: the a-vs-b classifier; NaN on the diagonal
  std::vector<std::vector<ArtistScore>> pairs;  // [a][b] for a < b
  ArtistScore all;                              // every artist at once
};

// Every pair of `artists` (all class folders when empty, at least 2), then all of them; `done`
// is told after each classifier.
ArtistPairs artist_pairs(const nlohmann::json& base, std::vector<std::string> artists,
                         const std::function<void(const ArtistScore&)>& done = {});

// The pairwise matrix as aligned text (artists as rows and columns, "-" on the diagonal), then
// the mean pairwise accuracy, the all-artists accuracy and confusion matrix.
std::string artist_pairs_table(const ArtistPairs& result);
// The pairwise matrix as CSV: a header "artist,<a1>,<a2>,..." then one row per artist, empty
// on the diagonal.
std::string artist_pairs_csv(const ArtistPairs& result);
// Everything as JSON (matrix, per-pair sample counts, all-artists accuracy and confusion).
nlohmann::json artist_pairs_json(const ArtistPairs& result);

}  // namespace i2v
