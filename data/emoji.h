// A Danbooru-style dump made of the emoji drawings of the npm packages emoji-datasource-<vendor>
// (about 3,800 64×64 PNGs each, with emoji.json giving names, short names, category and
// subcategory), so that any machine can train and test on real pictures with real tags.
//
// Fetch the packages with `scripts/fetch_emoji.sh` (`npm pack emoji-datasource-twitter
// emoji-datasource-google`, and apple / facebook on request); the converter then works offline
// from the tarballs or from extracted folders.
//
// One post per (vendor, emoji or skin-tone variation), mapped as:
//   general   the category ("smileys_and_emotion"), the subcategory ("face-affection"), the words
//             of the short names and of the Unicode name ("smiling", "heart", "eyes"; without
//             "a", "of", "with", ...), and "skin_tone" + e.g. "medium-dark_skin_tone" for a
//             skin-tone variation
//   character the base emoji's short name ("heart_eyes"): the same character in every vendor's style
//   copyright the vendor ("twitter"): the drawing style
//   rating    safe ("s"; "g" in the tag-string form, which reads as a 2022 dump)
// Post ids: vendor number (twitter 1, google 2, apple 3, facebook 4) × 10000 + the emoji's
// position in emoji.json's sort order (variations after their base), so `id % 10000` and the
// "emoji.unified" field match the same emoji across vendors.
//
// Output: <output>/metadata.jsonl (Danbooru2017 form with numbers as strings, or the tag_string_*
// form) and <output>/original/<id mod 1000>/<id>.png; optionally <output>/by_vendor/<vendor>/
// (hard links): an image-folder dataset with the vendors as classes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace i2v {

struct EmojiOptions {
  std::string packages;  // folder with emoji-datasource-<vendor>-*.tgz or emoji-datasource-<vendor>/
  std::vector<std::string> vendors = {"twitter", "google"};
  std::string output;
  bool tag_strings = false;    // write tag_string_* fields (rating "g") instead of "tags" objects
  bool class_folders = false;  // also <output>/by_vendor/<vendor>/<id>.png
  bool skin_tones = true;      // include the skin-tone variations (about half of the drawings)
};

struct EmojiVendorSummary {
  std::string vendor;
  std::string package;  // the tarball or folder read
  int64_t posts = 0;
  int64_t missing = 0;  // emoji the vendor lacks (no drawing in the package)
};

struct EmojiSummary {
  std::vector<EmojiVendorSummary> vendors;
  int64_t posts = 0;
  int64_t image_bytes = 0;
  int64_t tags = 0;  // distinct tags
  std::string metadata;  // the metadata file written
};

// The vendors with emoji-datasource packages.
const std::vector<std::string>& emoji_vendors();

// Writes the dump; throws with what to run when a package is missing.
EmojiSummary convert_emoji(const EmojiOptions& options);

}  // namespace i2v
