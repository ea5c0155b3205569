// What the tagger's outputs mean to people: plausible tags per picture (the original
// illustration2vec release's estimate_plausible_tags), and mAP per tag category (the paper's
// Table 2) with per-tag AP (its Table 3) against the trivial baseline.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/evaluate.h"
#include "train/inference.h"

namespace i2v {

// The original release's output: for general, character and copyright, the tags whose
// probability passes `threshold`, most probable first (at most `top` each; 0 = all); for rating,
// every rating class with its probability (never thresholded).
struct PlausibleTags {
  std::vector<std::pair<std::string, float>> general, character, copyright, rating;
};

// A tagger's probabilities: the sigmoid of each of `count` logits.
std::vector<float> tag_probabilities(const float* logits, size_t count);

PlausibleTags estimate_plausible_tags(const float* probabilities, const std::vector<ModelOutput>& outputs,
                                      float threshold = 0.25f, int top = 0);

// {"general": [["smile", 0.93], ...], "character": [...], "copyright": [...], "rating": [...]}
// (names with underscores, as in the vocabulary).
nlohmann::json to_json(const PlausibleTags& tags);

// A readable block for a terminal: one line per category, names with spaces.
std::string to_text(const PlausibleTags& tags);

// mAP per category of a multi-label evaluation, with the trivial baseline (every picture scored
// by the tag's frequency: all scores tie, so a tag's AP is its share of positives).
struct CategoryMap {
  std::string category;
  int64_t tags = 0;                  // outputs of the category
  int64_t evaluated = 0;             // with at least one positive picture in the split
  double map = 0;                    // NaN when none was evaluated
  double baseline = 0;
};

struct TagEvaluation {
  std::vector<CategoryMap> categories;  // general, character, copyright, rating (those present), then "all"
  struct TagAp {
    std::string name, category;
    int64_t positives = 0;
    double ap = 0;
  };
  std::vector<TagAp> per_tag;  // every tag with a positive, most frequent first
  // Multi-label precision and recall at 0.5 (train/metrics.h).
  double cp = 0, cr = 0, cf1 = 0, op = 0, orecall = 0, of1 = 0;
  int64_t samples = 0;
};

TagEvaluation evaluate_tags(const Evaluation& evaluation, const std::vector<ModelOutput>& outputs);
nlohmann::json to_json(const TagEvaluation& evaluation);
// The per-category table and the `top` most frequent tags' AP.
std::string to_text(const TagEvaluation& evaluation, int top);

}  // namespace i2v
