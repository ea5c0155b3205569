// WebDataset tar shards (data/shards.h): every sample's post, then each picture's bytes read back
// from its place in the shard. Each input is also tried with its headers' checksums made right,
// so that mutations of sizes, names and types reach the sample grouping and the breaks.
#include "data/data_error.h"
#include "data/shards.h"
#include "fuzz/fuzz_input.h"

namespace {

using namespace i2v;

void read_shard(const std::string& bytes) {
  const fuzz::InputFile input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tar");
  fuzz::expect_clean_error(input.path(), [&] {
    DataReport report;
    for_each_shard_post(input.path(), [&](Post& post) {
      if (post.member_offset < 0 || post.member_offset + post.member_size > int64_t(bytes.size()))
        fuzz::finding("a sample's picture lies outside the shard", input.path());
      read_shard_member(post.path, post.member_offset, post.member_size);
    }, report);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  read_shard(bytes);
  if (size >= 512) read_shard(fuzz::with_tar_checksums(bytes));
  return 0;
}
