#include "train/tagging.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "base/error.h"
#include "train/metrics.h"
#include "data/vocabulary.h"

namespace i2v {

std::vector<float> tag_probabilities(const float* logits, size_t count) {
  std::vector<float> probabilities(count);
  for (size_t k = 0; k < count; ++k) probabilities[k] = float(1.0 / (1.0 + std::exp(-double(logits[k]))));
  return probabilities;
}

PlausibleTags estimate_plausible_tags(const float* probabilities, const std::vector<ModelOutput>& outputs,
                                      float threshold, int top) {
  PlausibleTags tags;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const ModelOutput& output = outputs[i];
    const std::pair<std::string, float> entry{output.name, probabilities[i]};
    if (output.category == "rating") tags.rating.push_back(entry);
    else if (probabilities[i] < threshold) continue;
    else if (output.category == "general") tags.general.push_back(entry);
    else if (output.category == "character") tags.character.push_back(entry);
    else if (output.category == "copyright") tags.copyright.push_back(entry);
  }
  for (auto* list : {&tags.general, &tags.character, &tags.copyright, &tags.rating}) {
    std::stable_sort(list->begin(), list->end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (top > 0 && list != &tags.rating && int(list->size()) > top) list->resize(size_t(top));
  }
  return tags;
}

nlohmann::json to_json(const PlausibleTags& tags) {
  auto list = [](const std::vector<std::pair<std::string, float>>& entries) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, p] : entries) out.push_back({name, p});
    return out;
  };
  return {{"general", list(tags.general)},
          {"character", list(tags.character)},
          {"copyright", list(tags.copyright)},
          {"rating", list(tags.rating)}};
}

std::string to_text(const PlausibleTags& tags) {
  std::string text;
  auto line = [&](const char* category, const std::vector<std::pair<std::string, float>>& entries) {
    text += fmt::format("  {:<10}", category);
    if (entries.empty()) text += " -";
    for (size_t i = 0; i < entries.size(); ++i)
      text += fmt::format("{} {} {:.2f}", i ? "," : "", tag_display_name(entries[i].first), entries[i].second);
    text += "\n";
  };
  line("general", tags.general);
  line("character", tags.character);
  line("copyright", tags.copyright);
  line("rating", tags.rating);
  return text;
}

TagEvaluation evaluate_tags(const Evaluation& e, const std::vector<ModelOutput>& outputs) {
  I2V_CHECK(e.kind == TargetKind::multi_label, "tag evaluation needs a multi-label model and dataset");
  I2V_CHECK(int64_t(outputs.size()) == e.classes, "{} output names for a model with {} outputs", outputs.size(),
            e.classes);
  TagEvaluation result;
  result.samples = e.samples;
  // The baseline's constant score per tag: every picture ties, so any constant gives the same AP.
  const std::vector<float> constant(e.scores.size(), 0.5f);
  std::vector<std::string> order;
  std::map<std::string, std::vector<int64_t>> columns;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string category = outputs[i].category.empty() ? "class" : outputs[i].category;
    if (!columns.count(category)) order.push_back(category);
    columns[category].push_back(int64_t(i));
  }
  std::vector<int64_t> all(outputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  order.push_back("all");
  columns["all"] = all;
  for (const std::string& category : order) {
    const MeanAveragePrecision m = mean_average_precision(e.scores, e.labels, e.samples, e.classes, columns[category]);
    const MeanAveragePrecision b = mean_average_precision(constant, e.labels, e.samples, e.classes, columns[category]);
    result.categories.push_back({category, int64_t(columns[category].size()), m.tags_evaluated, m.map, b.map});
    if (category != "all") continue;
    for (size_t k = 0; k < all.size(); ++k) {
      if (std::isnan(m.per_tag[k])) continue;
      int64_t positives = 0;
      for (int64_t s = 0; s < e.samples; ++s) positives += e.labels[size_t(s * e.classes) + k] > 0.5f;
      result.per_tag.push_back({outputs[k].name, outputs[k].category, positives, m.per_tag[k]});
    }
  }
  std::stable_sort(result.per_tag.begin(), result.per_tag.end(),
                   [](const auto& a, const auto& b) { return a.positives > b.positives; });
  const MultiLabelScores scores = multilabel_scores(e.scores, e.labels, e.samples, e.classes, 0.5);
  result.cp = scores.cp;
  result.cr = scores.cr;
  result.cf1 = scores.cf1;
  result.op = scores.op;
  result.orecall = scores.orecall;
  result.of1 = scores.of1;
  return result;
}

nlohmann::json to_json(const TagEvaluation& e) {
  auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  nlohmann::json categories = nlohmann::json::array(), tags = nlohmann::json::array();
  for (const CategoryMap& c : e.categories)
    categories.push_back({{"category", c.category}, {"tags", c.tags}, {"evaluated", c.evaluated},
                          {"tags_without_positives", c.tags - c.evaluated}, {"map", number(c.map)},
                          {"baseline_map", number(c.baseline)}});
  for (const auto& t : e.per_tag)
    tags.push_back({{"tag", t.name}, {"category", t.category}, {"positives", t.positives}, {"ap", t.ap}});
  return {{"samples", e.samples},
          {"categories", categories},
          {"at_threshold_0.5", {{"CP", e.cp}, {"CR", e.cr}, {"CF1", e.cf1}, {"OP", e.op}, {"OR", e.orecall}, {"OF1", e.of1}}},
          {"per_tag", tags}};
}

std::string to_text(const TagEvaluation& e, int top) {
  auto cell = [](double v) { return std::isnan(v) ? std::string("  -   ") : fmt::format("{:.4f}", v); };
  std::string text = fmt::format("{} pictures\n{:<10} {:>6} {:>10} {:>8} {:>10}\n", e.samples, "category", "tags",
                                 "evaluated", "mAP", "baseline");
  for (const CategoryMap& c : e.categories)
    text += fmt::format("{:<10} {:>6} {:>10} {:>8} {:>10}\n", c.category, c.tags, c.evaluated, cell(c.map),
                        cell(c.baseline));
  text += "(baseline: every picture scored by the tag's frequency; tags without a positive picture are left out)\n";
  text += fmt::format("at 0.5: CP {:.4f} CR {:.4f} CF1 {:.4f}  OP {:.4f} OR {:.4f} OF1 {:.4f}\n", e.cp, e.cr, e.cf1,
                      e.op, e.orecall, e.of1);
  if (top > 0 && !e.per_tag.empty()) {
    text += fmt::format("\nAP of the {} most frequent tags:\n", std::min<size_t>(size_t(top), e.per_tag.size()));
    for (size_t i = 0; i < e.per_tag.size() && int(i) < top; ++i)
      text += fmt::format("  {:<32} {:<10} {:>6} positives  AP {:.4f}\n", tag_display_name(e.per_tag[i].name),
                          e.per_tag[i].category, e.per_tag[i].positives, e.per_tag[i].ap);
  }
  return text;
}

}  // namespace i2v
