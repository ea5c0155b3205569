// WebDataset tar shards read as a Danbooru-style dump, never extracted: consecutive members that
// share a key (the name up to its first dot) are one sample,
//
//   12345.webp (or .jpg, .jpeg, .png, .gif, .bmp)   the picture
//   12345.json                                      its Danbooru metadata (one post, as a dump line)
//   12345.txt                                       or its tags, separated by spaces or commas
//                                                   (general; the key is the post id)
//
// as nyanko7/danbooru2023, deepghs' danbooru2024 and danbooru-202603 ship them. A shard is read
// front to back, headers and metadata only: a picture is remembered as its bytes' place in the
// shard (Post::member_offset, member_size) and read when a batch needs it. A sample without a
// picture or without metadata, a header that is not one and a shard cut off are skipped and
// counted (DataProblem::incomplete_sample, broken_shard), never fatal.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/data_report.h"
#include "data/metadata.h"

namespace i2v {

// The shard files matching `patterns` (glob patterns such as "dumps/*.tar", or file names), each
// pattern's sorted, as absolute paths. Throws naming a pattern that matches nothing.
std::vector<std::string> shard_files(const std::vector<std::string>& patterns);

// Calls `visit` with the post of each complete sample of `shard` (post.path = the shard), in
// order; counts what it skips in `report`, as for_each_post does for metadata lines.
void for_each_shard_post(const std::string& shard, const std::function<void(Post&)>& visit, DataReport& report);

// The picture of a shard's post: `size` bytes at `offset` of the file at `path`.
std::string read_shard_member(const std::string& path, int64_t offset, int64_t size);

// Writes a plain (ustar) tar of `members` (name, bytes), in order, atomically: a shard others
// read (names of at most 100 bytes).
void write_tar_shard(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace i2v
