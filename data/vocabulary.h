// The tag vocabulary: which tags a multi-label model predicts, and in which order.
//
// Built from the metadata: the most frequent N tags of each category (defaults: 512 general,
// 512 character, 512 copyright; artist and meta 0) plus the rating classes, in the order
// general, character, copyright, artist, meta, rating — with the defaults that is 1,539 outputs in
// the order of the original illustration2vec release (general[0:512], character[512:1024],
// copyright[1024:1536], rating[1536:1539]). Ties in count go to the name that sorts first.
//
// Stored as JSON (i2v vocab build writes it; every tool reads it):
//   {"format": "i2v-vocabulary", "version": 1, "posts": 12345, "rating_vintage": "legacy",
//    "tags": [{"index": 0, "name": "1girl", "category": "general", "count": 9876}, ...]}
// Names keep Danbooru's underscores in files; display_name() has spaces, for printing.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/data_report.h"
#include "data/metadata.h"

namespace i2v {

struct VocabularyEntry {
  std::string name;  // as in the metadata: "long_hair"
  TagCategory category;
  int64_t count;     // posts carrying the tag (for ratings: posts with that rating)
};

struct VocabularyOptions {
  int64_t general = 512;
  int64_t character = 512;
  int64_t copyright = 512;
  int64_t artist = 0;
  int64_t meta = 0;
  bool ratings = true;  // append the rating classes
  int rating_classes = 3;
  RatingVintage vintage = RatingVintage::automatic;
};

class Vocabulary {
 public:
  Vocabulary() = default;
  // Entries in category blocks in the order above; `vintage` resolved.
  Vocabulary(std::vector<VocabularyEntry> entries, int64_t posts, RatingVintage vintage);

  static Vocabulary load(const std::string& path);  // throws naming the file and the problem
  void save(const std::string& path) const;         // atomically

  int64_t size() const { return int64_t(entries_.size()); }
  const VocabularyEntry& entry(int64_t index) const { return entries_[size_t(index)]; }
  const std::vector<VocabularyEntry>& entries() const { return entries_; }
  // "long hair"
  std::string display_name(int64_t index) const;
  // The index of a tag, or -1.
  int64_t index(TagCategory category, const std::string& name) const;
  // The outputs of one category: [first, first + count).
  int64_t first(TagCategory category) const;
  int64_t count(TagCategory category) const;
  // The output of a post's rating letter, or -1 (no rating outputs, or a letter the vintage
  // does not define).
  int64_t rating_index(char letter) const;
  RatingVintage rating_vintage() const { return vintage_; }
  int64_t posts() const { return posts_; }

 private:
  // Looked up once per tag of every post of a dump: no search, no allocation.
  static constexpr size_t kCategories = 6;  // vocabulary_category_order()
  std::vector<VocabularyEntry> entries_;
  int64_t posts_ = 0;
  RatingVintage vintage_ = RatingVintage::legacy;
  std::array<std::unordered_map<std::string, int64_t>, kCategories> index_;  // by category rank: name -> index
  std::array<int64_t, kCategories> first_{};
  std::array<int64_t, kCategories> count_{};
  std::array<int64_t, 256> rating_outputs_{};  // rating letter -> output, or -1
};

// The category order of a vocabulary's outputs.
const std::vector<TagCategory>& vocabulary_category_order();

// Counts every tag of every post in `metadata` (streamed) and keeps the most frequent. Problems
// in the metadata are skipped and counted in `report`.
Vocabulary build_vocabulary(const std::vector<std::string>& metadata, const VocabularyOptions& options,
                            DataReport& report);

// "long_hair" -> "long hair".
std::string tag_display_name(const std::string& name);

}  // namespace i2v
