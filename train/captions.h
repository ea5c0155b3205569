// Captions for training sets: the tags of one picture as the line of text that dataset tools
// (kohya-ss's sd-scripts, the WebUI and ComfyUI WD14 taggers) write into `<picture>.txt`, with the
// choices their users expect:
//   - a threshold per category: general tags, and character tags (copyright tags, names of works
//     as characters are names of people, follow the character threshold); or MCut, a threshold
//     found per picture and category (below);
//   - tags to leave out, tags moved to the front when present, a cap on the number of tags;
//   - character tags before the general ones or after, the most likely rating as a tag;
//   - underscores as spaces (prompts are written with spaces), except in kaomoji such as ^_^.
// Within each category the tags come most probable first. Everything is decided per picture from
// its probabilities alone, so a picture gets the same caption whether tagged alone or in a batch.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "train/inference.h"

namespace i2v {

struct CaptionOptions {
  // The defaults of SmilingWolf's WD tagger demo: general tags are many and graded, characters
  // few and either clearly there or not.
  float general_threshold = 0.35f;
  float character_threshold = 0.85f;
  // MCut (Largeron et al., "MCut: a thresholding strategy for multi-label classification", 2012):
  // per picture and category, sort the probabilities and cut at the middle of the largest gap
  // between neighbours. Replaces both thresholds; a character still needs at least
  // kMcutCharacterFloor (as the WD demo does: a large gap among tiny probabilities is no character).
  bool mcut = false;
  int top_k = 0;                          // at most this many tags (0: no cap); the most probable stay
  std::set<std::string> exclude;          // tags never written (as written by users: normalised below)
  std::vector<std::string> keep_first;    // tags moved to the front, in this order, when chosen
  bool replace_underscores = false;
  bool character_first = false;
  bool rating = false;                    // the most likely rating first (before the other tags)
  std::string separator = ", ";
};

constexpr float kMcutCharacterFloor = 0.15f;

// The threshold MCut picks for these probabilities (1 when there are fewer than two).
float mcut_threshold(std::vector<float> probabilities);

// A tag as matched against --exclude and --keep-first: spaces and underscores alike, no case.
std::string normalised_tag(const std::string& tag);

// The tags of one picture, in caption order, as written (underscores replaced when asked).
std::vector<std::string> caption_tags(const float* probabilities, const std::vector<ModelOutput>& outputs,
                                      const CaptionOptions& options);

// The tags of an existing caption line (split at commas, trimmed, empty ones dropped).
std::vector<std::string> split_caption(const std::string& text);

// `existing` followed by the tags of `added` it does not already hold (compared normalised).
std::vector<std::string> merge_captions(const std::vector<std::string>& existing, const std::vector<std::string>& added);

}  // namespace i2v
