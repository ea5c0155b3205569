// Danbooru-style metadata lines (data/metadata.h): a line that cannot be a post is skipped and
// counted, never fatal; a post that is read is written back (post_line) and read again as itself.
#include "data/data_error.h"
#include "data/metadata.h"
#include "fuzz/fuzz_input.h"

namespace {

using namespace i2v;

std::vector<Post> read_posts(const std::string& path) {
  std::vector<Post> posts;
  DataReport report;
  try {
    for_each_post({path}, [&](Post& post) {
      for (ImageLayout layout : {ImageLayout::original, ImageLayout::px512}) post_image_path(post, layout);
      posts.push_back(post);
    }, report);
  } catch (const Error& error) {
    fuzz::finding("a metadata line stopped the whole read instead of being skipped", error.what());
  }
  return posts;
}

bool same_post(const Post& a, const Post& b) {
  if (a.id != b.id || a.rating != b.rating || a.file_ext != b.file_ext || a.path != b.path || a.tags.size() != b.tags.size())
    return false;
  for (size_t i = 0; i < a.tags.size(); ++i)
    if (a.tags[i].name != b.tags[i].name || a.tags[i].category != b.tags[i].category) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile input(data, size, "jsonl");
  std::string written;
  const std::vector<Post> posts = read_posts(input.path());
  for (const Post& post : posts) written += post_line(post, PostForm::tags, number_tags({post})) + "\n";
  const fuzz::InputFile again(reinterpret_cast<const uint8_t*>(written.data()), written.size(), "again.jsonl");
  const std::vector<Post> reread = read_posts(again.path());
  if (reread.size() != posts.size()) fuzz::finding("post_line wrote a line that is not read back", written);
  for (size_t i = 0; i < posts.size(); ++i)
    if (!same_post(posts[i], reread[i])) fuzz::finding("post_line's line is read back as another post", written);
  return 0;
}
