#include "data/vocabulary.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/file.h"

namespace i2v {

using nlohmann::json;

const std::vector<TagCategory>& vocabulary_category_order() {
  static const std::vector<TagCategory> order = {TagCategory::general, TagCategory::character, TagCategory::copyright,
                                                 TagCategory::artist,  TagCategory::meta,      TagCategory::rating};
  return order;
}

std::string tag_display_name(const std::string& name) {
  std::string display = name;
  std::replace(display.begin(), display.end(), '_', ' ');
  return display;
}

namespace {

size_t category_rank(TagCategory category) {
  const auto& order = vocabulary_category_order();
  return size_t(std::find(order.begin(), order.end(), category) - order.begin());
}

}  // namespace

Vocabulary::Vocabulary(std::vector<VocabularyEntry> entries, int64_t posts, RatingVintage vintage)
    : entries_(std::move(entries)), posts_(posts), vintage_(vintage) {
  I2V_CHECK(vintage != RatingVintage::automatic, "a vocabulary needs a resolved rating vintage");
  for (size_t i = 0; i < entries_.size(); ++i) {
    const VocabularyEntry& e = entries_[i];
    I2V_CHECK(!e.name.empty(), "vocabulary entry {} has no name", i);
    I2V_CHECK(i == 0 || category_rank(entries_[i - 1].category) <= category_rank(e.category),
              "vocabulary entry {} ({}, {}) is out of the category order general, character, copyright, artist, meta, rating",
              i, e.name, tag_category_name(e.category));
    const size_t rank = category_rank(e.category);
    I2V_CHECK(index_[rank].emplace(e.name, int64_t(i)).second, "vocabulary entry {} repeats the {} tag '{}'", i,
              tag_category_name(e.category), e.name);
    if (count_[rank]++ == 0) first_[rank] = int64_t(i);
  }
  for (size_t rank = 1; rank < kCategories; ++rank)  // an empty category starts where the next ones do
    if (count_[rank] == 0) first_[rank] = first_[rank - 1] + count_[rank - 1];
  rating_outputs_.fill(-1);
  const int64_t ratings = count(TagCategory::rating);
  if (ratings > 0) {
    const RatingScheme scheme(vintage_, int(ratings));
    const std::vector<std::string> expected = scheme.names();
    for (int64_t r = 0; r < ratings; ++r)
      I2V_CHECK(entries_[size_t(first(TagCategory::rating) + r)].name == expected[size_t(r)],
                "the vocabulary's rating outputs must be {} (for a {} dump), in that order",
                fmt::join(expected, ", "), rating_vintage_name(vintage_));
    for (char letter : {'g', 's', 'q', 'e'})
      if (scheme.index(letter) >= 0) rating_outputs_[size_t(letter)] = first(TagCategory::rating) + scheme.index(letter);
  }
}

std::string Vocabulary::display_name(int64_t index) const { return tag_display_name(entry(index).name); }

int64_t Vocabulary::index(TagCategory category, const std::string& name) const {
  const auto& names = index_[category_rank(category)];
  const auto it = names.find(name);
  return it == names.end() ? -1 : it->second;
}

int64_t Vocabulary::first(TagCategory category) const { return first_[category_rank(category)]; }

int64_t Vocabulary::count(TagCategory category) const { return count_[category_rank(category)]; }

int64_t Vocabulary::rating_index(char letter) const { return rating_outputs_[static_cast<unsigned char>(letter)]; }

void Vocabulary::save(const std::string& path) const {
  json tags = json::array();
  for (size_t i = 0; i < entries_.size(); ++i)
    tags.push_back({{"index", i}, {"name", entries_[i].name}, {"category", tag_category_name(entries_[i].category)},
                    {"count", entries_[i].count}});
  json counts = json::object();
  for (TagCategory c : vocabulary_category_order()) counts[tag_category_name(c)] = count(c);
  const json document = {{"format", "i2v-vocabulary"}, {"version", 1},       {"posts", posts_},
                         {"rating_vintage", rating_vintage_name(vintage_)}, {"outputs", size()},
                         {"categories", counts},       {"tags", tags}};
  // One tag per line: readable, and diffs of two vocabularies stay small.
  std::string text = "{\n";
  for (const char* key : {"format", "version", "posts", "rating_vintage", "outputs", "categories"})
    text += fmt::format("  \"{}\": {},\n", key, document[key].dump());
  text += "  \"tags\": [\n";
  for (size_t i = 0; i < tags.size(); ++i) text += "    " + tags[i].dump() + (i + 1 < tags.size() ? ",\n" : "\n");
  text += "  ]\n}\n";
  write_file_atomically(path, text);
}

Vocabulary Vocabulary::load(const std::string& path) {
  json document;
  try {
    document = json::parse(read_file(path));
  } catch (const json::exception& e) {
    I2V_THROW("vocabulary {} is not valid JSON: {}", path, e.what());
  }
  try {
    I2V_CHECK(document.is_object() && document.value("format", "") == "i2v-vocabulary",
              "not an i2v vocabulary (no \"format\": \"i2v-vocabulary\")");
    I2V_CHECK(document.value("version", 0) == 1, "unsupported version {}", document.value("version", 0));
    const json& tags = document.at("tags");
    I2V_CHECK(tags.is_array(), "\"tags\" is not an array");
    std::vector<VocabularyEntry> entries;
    for (size_t i = 0; i < tags.size(); ++i) {
      const json& tag = tags[i];
      I2V_CHECK(tag.value("index", int64_t(-1)) == int64_t(i), "tag {} has index {} (indices must be 0, 1, 2, ...)", i,
                tag.value("index", int64_t(-1)));
      entries.push_back({tag.at("name").get<std::string>(), parse_tag_category(tag.at("category").get<std::string>()),
                         tag.value("count", int64_t(0))});
    }
    return Vocabulary(std::move(entries), document.value("posts", int64_t(0)),
                      parse_rating_vintage(document.value("rating_vintage", "legacy")));
  } catch (const Error& e) {
    I2V_THROW("vocabulary {}: {}", path, e.message());
  } catch (const json::exception& e) {
    I2V_THROW("vocabulary {}: {}", path, e.what());
  }
}

Vocabulary build_vocabulary(const std::vector<std::string>& metadata, const VocabularyOptions& options,
                            DataReport& report) {
  const std::array<std::pair<TagCategory, int64_t>, 5> wanted = {{{TagCategory::general, options.general},
                                                                  {TagCategory::character, options.character},
                                                                  {TagCategory::copyright, options.copyright},
                                                                  {TagCategory::artist, options.artist},
                                                                  {TagCategory::meta, options.meta}}};
  for (const auto& [category, n] : wanted)
    I2V_CHECK(n >= 0, "the number of {} tags must be >= 0, not {}", tag_category_name(category), n);
  if (options.ratings) RatingScheme(resolve_rating_vintage(options.vintage, true), options.rating_classes);

  std::array<std::unordered_map<std::string, int64_t>, 6> counts;  // by Danbooru category number
  std::array<int64_t, 256> letters{};
  int64_t posts = 0;
  std::vector<std::pair<int, std::string>> seen;
  const std::string files_text = fmt::format("{}", fmt::join(metadata, ", "));
  for_each_post(
      metadata_files(metadata),
      [&](Post& post) {
        if (options.vintage != RatingVintage::automatic && post.rating != 0 &&
            RatingScheme(options.vintage, 3).index(post.rating) < 0)
          I2V_DATA_ERROR(DataProblem::unknown_rating, "id {}: rating '{}' is not defined in a {} dump", post.id,
                         post.rating, rating_vintage_name(options.vintage));
        seen.clear();
        for (const Tag& tag : post.tags) seen.emplace_back(int(tag.category), tag.name);
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (const auto& [category, name] : seen) ++counts[size_t(category)][name];
        ++letters[static_cast<unsigned char>(post.rating)];
        ++posts;
      },
      report);

  std::vector<VocabularyEntry> entries;
  for (const auto& [category, n] : wanted) {
    std::vector<std::pair<std::string, int64_t>> tags(counts[size_t(category)].begin(), counts[size_t(category)].end());
    const auto more_frequent = [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    const size_t keep = std::min(tags.size(), size_t(n));
    std::partial_sort(tags.begin(), tags.begin() + ptrdiff_t(keep), tags.end(), more_frequent);
    for (size_t i = 0; i < keep; ++i) entries.push_back({tags[i].first, category, tags[i].second});
  }
  const RatingVintage vintage = resolve_rating_vintage(options.vintage, letters['g'] > 0);
  if (options.ratings) {
    const RatingScheme scheme(vintage, options.rating_classes);
    const std::vector<std::string> names = scheme.names();
    std::vector<int64_t> per_class(names.size(), 0);
    for (char letter : {'g', 's', 'q', 'e'})
      if (scheme.index(letter) >= 0) per_class[size_t(scheme.index(letter))] += letters[size_t(letter)];
    for (size_t r = 0; r < names.size(); ++r) entries.push_back({names[r], TagCategory::rating, per_class[r]});
  }
  I2V_CHECK(posts > 0, "no readable post in the metadata ({})", files_text);
  return Vocabulary(std::move(entries), posts, vintage);
}

}  // namespace i2v
