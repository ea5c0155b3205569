// Danbooru-style metadata: one JSON object per line (JSON lines), read as a stream — files may be
// many and large, and are never loaded whole — and written one post at a time (post_line).
//
// Both forms found in the wild are read:
//  - Danbooru2017–2020:  {"id":"2921", "rating":"s", "file_ext":"jpg",
//                         "tags":[{"id":"470575","name":"1girl","category":"0"}, ...]}
//    numbers are often written as strings; both spellings are accepted everywhere;
//  - the newer API form:  {"id":2921, "rating":"g", "file_ext":"jpg",
//                         "tag_string_general":"1girl solo", "tag_string_character":"...",
//                         "tag_string_copyright":"...", "tag_string_artist":"...", "tag_string_meta":"..."}
//    or a single "tag_string" (no categories: every tag counts as general).
// An optional "path" field names the image file (relative to the image root, or absolute).
//
// Tag categories: 0 general, 1 artist, 3 copyright, 4 character, 5 meta (any other is an error).
//
// Ratings: the letter's meaning depends on the dump's vintage.
//  - legacy (dumps before 2022): s = safe, q = questionable, e = explicit;
//  - 2022 (Danbooru split "safe" into g = general and s = sensitive in 2022): g, s, q, e.
//  The vintage is an option; `auto` picks 2022 when any post is rated g, legacy otherwise.
//  Rating classes: three (illustration2vec's safe, questionable, explicit; in a 2022 dump g and s
//  both count as safe, together being what "safe" meant before) or four (general, sensitive,
//  questionable, explicit; 2022 dumps only). Full words (safe, general, ...) are read as their
//  letter.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/data_report.h"

namespace i2v {

enum class TagCategory : int {
  general = 0,
  artist = 1,
  copyright = 3,
  character = 4,
  meta = 5,
  rating = 100,  // not a Danbooru tag category: the rating outputs of a vocabulary
};
const char* tag_category_name(TagCategory category);  // "general", ...
// "general" or "0" -> TagCategory; throws for anything else.
TagCategory parse_tag_category(const std::string& text);

enum class RatingVintage { automatic, legacy, y2022 };
const char* rating_vintage_name(RatingVintage vintage);  // "auto", "legacy", "2022"
RatingVintage parse_rating_vintage(const std::string& text);

// How a dump's rating letters map to rating classes.
class RatingScheme {
 public:
  // `vintage` must be resolved (legacy or 2022); four classes need a 2022 dump.
  RatingScheme(RatingVintage vintage, int classes);
  RatingVintage vintage() const { return vintage_; }
  int classes() const { return classes_; }
  // "safe", "questionable", "explicit" or "general", "sensitive", "questionable", "explicit".
  std::vector<std::string> names() const;
  // The class of a rating letter, or -1 when the vintage does not define it.
  int index(char letter) const;

 private:
  RatingVintage vintage_;
  int classes_;
};

// `auto` resolved from the letters seen: 2022 when any post was rated g.
RatingVintage resolve_rating_vintage(RatingVintage vintage, bool saw_g);

struct Tag {
  std::string name;
  TagCategory category;
};

struct Post {
  int64_t id = 0;
  char rating = 0;        // g, s, q or e as written (0 when the post has none)
  std::string file_ext;   // "jpg", "png", ... (may be empty)
  std::string path;       // the explicit "path" field (usually empty); a tar shard's post: the shard
  int64_t member_offset = -1;  // a tar shard's post: its picture is bytes [offset, offset + size) of `path`
  int64_t member_size = 0;
  std::vector<Tag> tags;
  std::string line;       // "posts.jsonl:17", for reports
};

// One post from one line of JSON; throws DataError (malformed JSON, unknown category or rating)
// naming post.line.
void parse_post(const std::string& line, Post& post);

// The metadata files behind `paths`: files as given, directories as their *.json and *.jsonl
// files (sorted by name). Throws when a path does not exist or nothing is found.
std::vector<std::string> metadata_files(const std::vector<std::string>& paths);

// Calls `visit` with each well-formed post of `files`, in order, reading one line at a time (a
// .tar file is a WebDataset shard: its samples' posts, data/shards.h).
// Blank lines are ignored. A line that is not a JSON object with an id, a tag with an unknown
// category and a rating that is not g, s, q or e are skipped and counted in `report` (where:
// "file:line"), and so is a post for which `visit` throws DataError (it must do so before
// keeping anything of the post); the other posts are counted as read.
void for_each_post(const std::vector<std::string>& files, const std::function<void(Post&)>& visit, DataReport& report);

// ---- writing posts (the dumps i2v makes, such as data/emoji.h's) ----

// The two forms above, as i2v writes them.
enum class PostForm {
  tags,         // Danbooru2017: numbers as strings, "tags" objects with an id, a name and a category
  tag_strings,  // the API form: numbers as numbers, one "tag_string_<category>" field per category
};

// A dump's tag ids, by (category, name): numbered 1, 2, ... in that order, as Danbooru's dumps
// number their tags.
using TagIds = std::map<std::pair<TagCategory, std::string>, int64_t>;
TagIds number_tags(const std::vector<Post>& posts);

// The line of `post` (one JSON object, without the newline) that for_each_post reads back as the
// same post: its id, rating, file_ext and path (each when set) and tags (in the tag_strings form
// they come back grouped by category). `tag_ids` must number every tag of the post in the tags
// form. `more` adds the fields Post does not keep ("image_width", ...), after the post's own; in
// the tags form its integers are written as strings too. Throws for what the form cannot hold: a
// tag of category `rating`, or, in the tag_strings form, a tag name with a space.
std::string post_line(const Post& post, PostForm form, const TagIds& tag_ids,
                      const nlohmann::ordered_json& more = nlohmann::ordered_json::object());

// Where a post's image is, relative to the image root. A post's "path" field, when present,
// always wins; for posts without one:
//   original: original/<id mod 1000, 4 digits>/<id>.<file_ext>   (Danbooru20xx full size)
//   px512:    512px/<id mod 1000, 4 digits>/<id>.jpg              (Danbooru20xx SFW 512px)
//   path:     none (the post is skipped as a missing file)
//   automatic: `original` when <root>/original exists, else `px512` when <root>/512px exists,
//              else `original`.
enum class ImageLayout { automatic, original, px512, path };
const char* image_layout_name(ImageLayout layout);  // "auto", "original", "512px", "path"
ImageLayout parse_image_layout(const std::string& text);

// Resolves `automatic` for a root (looks at which folders exist); the others stay.
ImageLayout resolve_image_layout(ImageLayout layout, const std::string& root);
// The image of `post` relative to the root (or absolute, from a path field). Throws DataError
// unsupported_format when the original layout's file_ext is not an image (mp4, zip, swf, ...).
std::string post_image_path(const Post& post, ImageLayout resolved_layout);

}  // namespace i2v
