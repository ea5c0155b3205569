// The tag list of the original Illustration2Vec release (tag_list.json): a JSON array of the
// 1,539 tag names in the order of the released models' outputs, its categories given by position
// alone: general [0, 512), character [512, 1024), copyright [1024, 1536), rating [1536, 1539).
// The weights that go with it are read by nn/caffe_model.h; `i2v weights import-caffe --tag-list`
// stores both in one safetensors file.
#pragma once

#include <string>
#include <vector>

namespace i2v {

constexpr int kReleaseTagCount = 1539;

struct ReleaseTag {
  std::string name;
  std::string category;  // "general", "character", "copyright" or "rating"
  int index = 0;         // the model output that scores this tag
};

// The category of output `index` of the released models.
const char* release_tag_category(int index);

// Parses the list; refuses anything but an array of exactly 1,539 strings, naming `source` and
// the offending entry.
std::vector<ReleaseTag> parse_release_tag_list(const std::string& json_text, const std::string& source);
std::vector<ReleaseTag> load_release_tag_list(const std::string& path);

}  // namespace i2v
