#include "train/captions.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"

namespace i2v {
namespace {

struct Scored {
  std::string name;
  float probability;
};

void most_probable_first(std::vector<Scored>& tags) {
  std::stable_sort(tags.begin(), tags.end(), [](const Scored& a, const Scored& b) { return a.probability > b.probability; });
}

// A kaomoji (^_^, >_<, o_o) is all punctuation, or letters only as eyes: its underscores are its
// mouth. A tag with two letters or digits in a row is words joined by underscores.
bool is_kaomoji(const std::string& tag) {
  for (size_t i = 0; i + 1 < tag.size(); ++i)
    if (std::isalnum(static_cast<unsigned char>(tag[i])) && std::isalnum(static_cast<unsigned char>(tag[i + 1])))
      return false;
  return tag.size() <= 5;
}

std::string written(const std::string& tag, const CaptionOptions& options) {
  if (!options.replace_underscores || is_kaomoji(tag)) return tag;
  std::string out = tag;
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

}  // namespace

float mcut_threshold(std::vector<float> probabilities) {
  if (probabilities.size() < 2) return 1.0f;
  std::sort(probabilities.begin(), probabilities.end(), std::greater<float>());
  size_t cut = 0;
  for (size_t i = 1; i + 1 < probabilities.size(); ++i)
    if (probabilities[i] - probabilities[i + 1] > probabilities[cut] - probabilities[cut + 1]) cut = i;
  return (probabilities[cut] + probabilities[cut + 1]) / 2;
}

std::string normalised_tag(const std::string& tag) {
  std::string out;
  for (char c : tag) out += c == '_' ? ' ' : char(std::tolower(static_cast<unsigned char>(c)));
  const size_t begin = out.find_first_not_of(' '), end = out.find_last_not_of(' ');
  return begin == std::string::npos ? "" : out.substr(begin, end - begin + 1);
}

std::vector<std::string> caption_tags(const float* probabilities, const std::vector<ModelOutput>& outputs,
                                      const CaptionOptions& options) {
  // Each category's candidates, and the threshold each must pass.
  std::vector<Scored> general, character, rating;
  std::vector<float> general_scores, character_scores;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const ModelOutput& output = outputs[i];
    if (output.category == "rating") {
      rating.push_back({output.name, probabilities[i]});
    } else {
      // MCut sees the whole category, excluded tags too (an exclusion removes a tag, it does not
      // move the cut).
      const bool named = output.category == "character" || output.category == "copyright";
      (named ? character_scores : general_scores).push_back(probabilities[i]);
      if (options.exclude.count(normalised_tag(output.name)) == 0)
        (named ? character : general).push_back({output.name, probabilities[i]});
    }
  }
  const float general_threshold = options.mcut ? mcut_threshold(general_scores) : options.general_threshold;
  const float character_threshold =
      options.mcut ? std::max(kMcutCharacterFloor, mcut_threshold(character_scores)) : options.character_threshold;
  auto passing = [](std::vector<Scored>& tags, float threshold) {
    tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const Scored& t) { return t.probability < threshold; }),
               tags.end());
    most_probable_first(tags);
  };
  passing(general, general_threshold);
  passing(character, character_threshold);

  // The cap keeps the most probable of both categories together (ties: the category written first).
  std::vector<Scored>& first = options.character_first ? character : general;
  std::vector<Scored>& second = options.character_first ? general : character;
  if (options.top_k > 0 && first.size() + second.size() > size_t(options.top_k)) {
    std::vector<std::pair<float, bool>> all;  // a probability, and whether it is of `first`
    for (const Scored& t : first) all.push_back({t.probability, true});
    for (const Scored& t : second) all.push_back({t.probability, false});
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    all.resize(size_t(options.top_k));
    const size_t kept_first = size_t(std::count_if(all.begin(), all.end(), [](const auto& t) { return t.second; }));
    first.resize(kept_first);
    second.resize(all.size() - kept_first);
  }

  std::vector<std::string> tags;
  if (options.rating && !rating.empty()) {
    most_probable_first(rating);
    tags.push_back(rating.front().name);
  }
  for (const std::vector<Scored>* category : {&first, &second})
    for (const Scored& t : *category) tags.push_back(t.name);
  // --keep-first: moved to the front in the order given, when chosen at all.
  std::vector<std::string> front;
  for (const std::string& wanted : options.keep_first)
    for (auto it = tags.begin(); it != tags.end(); ++it)
      if (normalised_tag(*it) == normalised_tag(wanted)) {
        front.push_back(*it);
        tags.erase(it);
        break;
      }
  tags.insert(tags.begin(), front.begin(), front.end());
  for (std::string& tag : tags) tag = written(tag, options);
  return tags;
}

std::vector<std::string> split_caption(const std::string& text) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string tag = text.substr(start, end - start);
    const size_t begin = tag.find_first_not_of(" \t\r\n"), last = tag.find_last_not_of(" \t\r\n");
    if (begin != std::string::npos) tags.push_back(tag.substr(begin, last - begin + 1));
    start = end + 1;
  }
  return tags;
}

std::vector<std::string> merge_captions(const std::vector<std::string>& existing, const std::vector<std::string>& added) {
  std::vector<std::string> merged = existing;
  std::set<std::string> present;
  for (const std::string& tag : existing) present.insert(normalised_tag(tag));
  for (const std::string& tag : added)
    if (present.insert(normalised_tag(tag)).second) merged.push_back(tag);
  return merged;
}

}  // namespace i2v
