#include "data/metadata.h"
#include "data/shards.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/enum_names.h"
#include "base/error.h"
#include "base/text.h"
#include "data/image.h"

namespace i2v {

namespace fs = std::filesystem;
using nlohmann::json;

const char* tag_category_name(TagCategory category) {
  switch (category) {
    case TagCategory::general: return "general";
    case TagCategory::artist: return "artist";
    case TagCategory::copyright: return "copyright";
    case TagCategory::character: return "character";
    case TagCategory::meta: return "meta";
    case TagCategory::rating: return "rating";
  }
  return "?";
}

TagCategory parse_tag_category(const std::string& text) {
  for (TagCategory c : {TagCategory::general, TagCategory::artist, TagCategory::copyright, TagCategory::character,
                        TagCategory::meta, TagCategory::rating})
    if (text == tag_category_name(c) || (c != TagCategory::rating && text == std::to_string(int(c)))) return c;
  I2V_DATA_ERROR(DataProblem::unknown_category,
                 "unknown tag category '{}' (0 general, 1 artist, 3 copyright, 4 character, 5 meta)", text);
}

const char* rating_vintage_name(RatingVintage vintage) {
  switch (vintage) {
    case RatingVintage::automatic: return "auto";
    case RatingVintage::legacy: return "legacy";
    case RatingVintage::y2022: return "2022";
  }
  return "?";
}

RatingVintage parse_rating_vintage(const std::string& text) {
  return parse_enum(text, {RatingVintage::automatic, RatingVintage::legacy, RatingVintage::y2022}, rating_vintage_name,
                    "rating vintage");
}

RatingVintage resolve_rating_vintage(RatingVintage vintage, bool saw_g) {
  if (vintage != RatingVintage::automatic) return vintage;
  return saw_g ? RatingVintage::y2022 : RatingVintage::legacy;
}

RatingScheme::RatingScheme(RatingVintage vintage, int classes) : vintage_(vintage), classes_(classes) {
  I2V_CHECK(vintage != RatingVintage::automatic, "a rating scheme needs a resolved vintage (legacy or 2022)");
  I2V_CHECK(classes == 3 || classes == 4, "rating classes must be 3 or 4, not {}", classes);
  I2V_CHECK(classes == 3 || vintage == RatingVintage::y2022,
            "four rating classes (general, sensitive, questionable, explicit) need a 2022 dump");
}

std::vector<std::string> RatingScheme::names() const {
  if (classes_ == 4) return {"general", "sensitive", "questionable", "explicit"};
  return {"safe", "questionable", "explicit"};
}

int RatingScheme::index(char letter) const {
  const bool modern = vintage_ == RatingVintage::y2022;
  switch (letter) {
    case 'g': return modern ? 0 : -1;
    case 's': return modern && classes_ == 4 ? 1 : 0;
    case 'q': return classes_ - 2;
    case 'e': return classes_ - 1;
    default: return -1;
  }
}

std::vector<std::string> metadata_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path)) {
        const std::string extension = entry.path().extension().string();
        if (entry.is_regular_file() && (extension == ".json" || extension == ".jsonl")) found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      I2V_CHECK(!found.empty(), "no metadata (*.json, *.jsonl) in {}", path);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      I2V_CHECK(fs::is_regular_file(path, error), "metadata {} does not exist", path);
      files.push_back(path);
    }
  }
  I2V_CHECK(!files.empty(), "no metadata files given");
  return files;
}

namespace {

// An integer written as a number or as a string of digits ("2921").
bool read_integer(const json& value, int64_t* out) {
  if (value.is_number_integer()) {
    *out = value.get<int64_t>();
    return true;
  }
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  size_t used = 0;
  try {
    *out = std::stoll(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == text.size();
}

std::string category_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  return value.dump();
}

void split_words(const std::string& text, TagCategory category, std::vector<Tag>& tags) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) tags.push_back({text.substr(i, j - i), category});
    i = j;
  }
}

// A rating as written ("s", "safe", "g", "general", ...) -> its letter; 0 when unknown.
char rating_letter(const std::string& text) {
  const std::string lower = to_lower(text);
  for (const char* word : {"general", "sensitive", "safe", "questionable", "explicit"})
    if (lower == word || (lower.size() == 1 && lower[0] == word[0])) return word[0] == 's' ? 's' : word[0];
  return 0;
}

}  // namespace

void parse_post(const std::string& line, Post& post) {
  post.member_offset = -1;
  post.member_size = 0;
  json object;
  try {
    object = json::parse(line);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const size_t bracket = what.find("] ");
    I2V_DATA_ERROR(DataProblem::malformed_json, "{}", bracket == std::string::npos ? what : what.substr(bracket + 2));
  }
  if (!object.is_object()) I2V_DATA_ERROR(DataProblem::malformed_json, "not a JSON object");
  const auto id = object.find("id");
  if (id == object.end() || !read_integer(*id, &post.id))
    I2V_DATA_ERROR(DataProblem::malformed_json, "no integer \"id\" field");
  post.rating = 0;
  if (const auto rating = object.find("rating"); rating != object.end() && !rating->is_null()) {
    post.rating = rating->is_string() ? rating_letter(rating->get<std::string>()) : 0;
    if (post.rating == 0) I2V_DATA_ERROR(DataProblem::unknown_rating, "id {}: unknown rating {}", post.id, rating->dump());
  }
  const auto text_field = [&](const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  post.file_ext = text_field("file_ext");
  post.path = text_field("path");
  post.tags.clear();
  if (const auto tags = object.find("tags"); tags != object.end() && tags->is_array()) {
    for (const json& tag : *tags) {
      const auto name = tag.is_object() ? tag.find("name") : tag.end();
      if (!tag.is_object() || name == tag.end() || !name->is_string())
        I2V_DATA_ERROR(DataProblem::malformed_json, "id {}: a tag without a \"name\": {}", post.id, tag.dump());
      const auto category = tag.find("category");
      const std::string category_name = category == tag.end() ? "0" : category_text(*category);
      TagCategory parsed;
      try {
        parsed = parse_tag_category(category_name);
      } catch (const DataError& e) {
        I2V_DATA_ERROR(DataProblem::unknown_category, "id {}: tag '{}': {}", post.id, name->get<std::string>(), e.message());
      }
      if (parsed == TagCategory::rating)
        I2V_DATA_ERROR(DataProblem::unknown_category, "id {}: tag '{}' has category 'rating'", post.id, name->get<std::string>());
      post.tags.push_back({name->get<std::string>(), parsed});
    }
    return;
  }
  bool categorised = false;
  for (TagCategory c : {TagCategory::general, TagCategory::artist, TagCategory::copyright, TagCategory::character,
                        TagCategory::meta}) {
    const std::string key = std::string("tag_string_") + tag_category_name(c);
    if (object.contains(key)) {
      categorised = true;
      split_words(text_field(key.c_str()), c, post.tags);
    }
  }
  if (!categorised) split_words(text_field("tag_string"), TagCategory::general, post.tags);
}

void for_each_post(const std::vector<std::string>& files, const std::function<void(Post&)>& visit, DataReport& report) {
  std::vector<char> buffer(1 << 20);
  std::string line;
  Post post;
  for (const std::string& file : files) {
    if (fs::path(file).extension() == ".tar") {  // a WebDataset shard (data/shards.h)
      for_each_shard_post(file, visit, report);
      continue;
    }
    std::ifstream in;
    in.rdbuf()->pubsetbuf(buffer.data(), std::streamsize(buffer.size()));
    in.open(file, std::ios::binary);
    I2V_CHECK(in.is_open(), "cannot open metadata {}", file);
    const std::string name = fs::path(file).filename().string();
    int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      post.line = fmt::format("{}:{}", name, number);
      try {
        parse_post(line, post);
        visit(post);
      } catch (const DataError& e) {
        report.add_skipped(e, post.line);
        continue;
      }
      report.add_read();
    }
    I2V_CHECK(!in.bad(), "cannot read metadata {}", file);
  }
}

TagIds number_tags(const std::vector<Post>& posts) {
  TagIds ids;
  for (const Post& post : posts)
    for (const Tag& tag : post.tags) ids[{tag.category, tag.name}] = 0;
  int64_t next = 1;
  for (auto& [tag, id] : ids) id = next++;
  return ids;
}

std::string post_line(const Post& post, PostForm form, const TagIds& tag_ids, const nlohmann::ordered_json& more) {
  using nlohmann::ordered_json;  // keeps "id" first, as in Danbooru's files
  const bool strings = form == PostForm::tags;  // Danbooru2017 wrote every number as a string
  const auto number = [&](int64_t n) { return strings ? ordered_json(std::to_string(n)) : ordered_json(n); };
  ordered_json line = {{"id", number(post.id)}};
  if (post.rating) line["rating"] = std::string(1, post.rating);
  if (!post.file_ext.empty()) line["file_ext"] = post.file_ext;
  if (!post.path.empty()) line["path"] = post.path;
  for (const Tag& tag : post.tags) {
    I2V_CHECK(tag.category != TagCategory::rating, "post {}: tag '{}' has category 'rating', which no dump has",
              post.id, tag.name);
    I2V_CHECK(form == PostForm::tags || (!tag.name.empty() && tag.name.find(' ') == std::string::npos),
              "post {}: the tag '{}' cannot be written in a tag string (tags are separated by spaces)", post.id,
              tag.name);
  }
  if (form == PostForm::tags) {
    ordered_json tags = ordered_json::array();
    for (const Tag& tag : post.tags) {
      const auto id = tag_ids.find({tag.category, tag.name});
      I2V_CHECK(id != tag_ids.end(), "post {}: the tag '{}' has no id", post.id, tag.name);
      tags.push_back({{"id", number(id->second)}, {"name", tag.name}, {"category", number(int(tag.category))}});
    }
    line["tags"] = tags;
  } else {
    for (TagCategory c : {TagCategory::general, TagCategory::character, TagCategory::copyright, TagCategory::artist,
                          TagCategory::meta}) {
      std::vector<std::string> names;
      for (const Tag& tag : post.tags)
        if (tag.category == c) names.push_back(tag.name);
      line[std::string("tag_string_") + tag_category_name(c)] = join(names, " ");
    }
  }
  for (const auto& [key, value] : more.items())
    line[key] = value.is_number_integer() ? number(value.get<int64_t>()) : value;
  return line.dump();
}

const char* image_layout_name(ImageLayout layout) {
  switch (layout) {
    case ImageLayout::automatic: return "auto";
    case ImageLayout::original: return "original";
    case ImageLayout::px512: return "512px";
    case ImageLayout::path: return "path";
  }
  return "?";
}

ImageLayout parse_image_layout(const std::string& text) {
  return parse_enum(text, {ImageLayout::automatic, ImageLayout::original, ImageLayout::px512, ImageLayout::path},
                    image_layout_name, "image layout");
}

ImageLayout resolve_image_layout(ImageLayout layout, const std::string& root) {
  if (layout != ImageLayout::automatic) return layout;
  std::error_code error;
  if (fs::is_directory(fs::path(root) / "original", error)) return ImageLayout::original;
  if (fs::is_directory(fs::path(root) / "512px", error)) return ImageLayout::px512;
  return ImageLayout::original;
}

std::string post_image_path(const Post& post, ImageLayout layout) {
  if (!post.path.empty()) return post.path;
  const std::string bucket = fmt::format("{:04d}", ((post.id % 1000) + 1000) % 1000);
  switch (layout) {
    case ImageLayout::px512: return fmt::format("512px/{}/{}.jpg", bucket, post.id);
    case ImageLayout::original: {
      if (!is_image_extension(post.file_ext))
        I2V_DATA_ERROR(DataProblem::unsupported_format, "id {}: file_ext '{}' is not an image (JPEG, PNG, GIF, BMP, WebP)",
                       post.id, post.file_ext);
      return fmt::format("original/{}/{}.{}", bucket, post.id, post.file_ext);
    }
    case ImageLayout::path:
      I2V_DATA_ERROR(DataProblem::missing_file, "id {}: no \"path\" field (image layout 'path')", post.id);
    case ImageLayout::automatic: break;
  }
  I2V_THROW("post_image_path needs a resolved image layout");
}

}  // namespace i2v
