// Dumps in WebDataset tar shards (data/shards.h): samples read in place (WebP, JPEG and PNG
// pictures; JSON or tag-text metadata), bad samples and broken shards skipped and counted, the
// same posts from a folder and from shards giving the same batches, and the shard-wise epoch
// order (deterministic, resumable mid-epoch).
#include <webp/encode.h>

#include <gtest/gtest.h>

#include "base/file.h"
#include "data/data_loader.h"
#include "data/dataset.h"
#include "data/metadata.h"
#include "data/shards.h"
#include "data/vocabulary.h"
#include "tests/data_fixture.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;
using DataShards = test::TempDirectoryTest;

std::string webp_bytes(const Image& image) {
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeLosslessRGB(image.rgb.data(), image.width, image.height, image.width * 3, &out);
  std::string bytes(reinterpret_cast<const char*>(out), size);
  WebPFree(out);
  return bytes;
}

Post post_of(int64_t id) {
  Post post;
  post.id = id;
  post.rating = id % 3 == 0 ? 'q' : 's';
  post.tags = {{id % 2 ? "red" : "blue", TagCategory::general}, {"circle", TagCategory::general},
               {id % 4 ? "alice" : "bob", TagCategory::character}};
  return post;
}

// Posts 1..n (JPEG, PNG and WebP pictures in turn) as a folder dump (dir/folder) and as shards of
// `per_shard` posts (dir/shards).
void write_both(const fs::path& dir, int n, int per_shard) {
  std::string lines;
  std::vector<std::pair<std::string, std::string>> members;
  int shard = 0;
  for (int id = 1; id <= n; ++id) {
    Post post = post_of(id);
    const Image picture = test::drawing(24 + id, 20, uint64_t(id));
    const char* extension = id % 3 == 0 ? "webp" : id % 3 == 1 ? "jpg" : "png";
    const std::string bytes = id % 3 == 0 ? webp_bytes(picture) : id % 3 == 1 ? encode_jpeg(picture) : test::png_bytes(picture);
    post.path = fmt::format("pictures/{}.{}", id, extension);
    test::write_bytes(dir / "folder" / post.path, bytes);
    lines += post_line(post, PostForm::tag_strings, {}) + "\n";
    post.path.clear();
    members.push_back({fmt::format("{}.{}", id, extension), bytes});
    members.push_back({fmt::format("{}.json", id), post_line(post, PostForm::tag_strings, {})});
    if (id % per_shard == 0 || id == n) {
      fs::create_directories(dir / "shards");
      write_tar_shard((dir / "shards" / fmt::format("shard-{:03d}.tar", shard++)).string(), members);
      members.clear();
    }
  }
  test::write_bytes(dir / "folder" / "metadata.jsonl", lines);
}

std::shared_ptr<const Dataset> open_dump(const std::vector<std::string>& metadata, const std::string& images,
                                         DataReport* report = nullptr) {
  DataReport vocabulary_report;
  const Vocabulary vocabulary = build_vocabulary(metadata, VocabularyOptions{}, vocabulary_report);
  DanbooruSource source;
  source.metadata = metadata;
  source.images = images;
  auto contents = std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
  if (report) *report = contents->report;
  DatasetOptions options;
  options.preprocess.size = 16;
  return std::make_shared<const Dataset>(contents, std::nullopt, options);
}

std::vector<Batch> all_batches(std::shared_ptr<const Dataset> dataset, LoaderOptions options, LoaderPosition start = {},
                               int epochs = 1) {
  DataLoader loader(dataset, options, start);
  std::vector<Batch> batches;
  for (int e = 0; e < epochs; ++e)
    while (std::optional<Batch> batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << "batch " << i;
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>()) << "batch " << i;
    EXPECT_EQ(a[i].targets.to_vector<float>(), b[i].targets.to_vector<float>()) << "batch " << i;
  }
}

TEST_F(DataShards, TheSamePostsFromFoldersAndFromShardsGiveTheSameBatches) {
  write_both(dir_, 13, 5);
  const std::vector<std::string> shards = shard_files({(dir_ / "shards" / "*.tar").string()});
  ASSERT_EQ(shards.size(), 3u);
  const auto from_folder = open_dump({(dir_ / "folder" / "metadata.jsonl").string()}, (dir_ / "folder").string());
  const auto from_shards = open_dump(shards, "");
  ASSERT_EQ(from_shards->size(), 13);
  EXPECT_EQ(from_shards->describe(0).rfind("id 1 (", 0), 0u);
  LoaderOptions options;
  options.batch_size = 4;
  options.shuffle = false;
  options.workers = 2;
  expect_same(all_batches(from_folder, options), all_batches(from_shards, options));
}

TEST_F(DataShards, BadSamplesAndBrokenShardsAreSkippedAndCounted) {
  write_both(dir_, 4, 4);
  const Image picture = test::drawing(20, 20, 9);
  const std::string png = test::png_bytes(picture);
  Post post = post_of(20);
  // A picture without metadata, metadata without a picture, tags as text, an unreadable picture.
  write_tar_shard((dir_ / "shards" / "b.tar").string(),
                  {{"10.png", png},
                   {"11.json", post_line(post_of(11), PostForm::tag_strings, {})},
                   {"12.webp", webp_bytes(picture)},
                   {"12.txt", "red, circle alice"},
                   {"13.png", "not a picture"},
                   {"13.json", post_line(post_of(13), PostForm::tag_strings, {})}});
  // A shard cut off inside its second sample, and one whose second header is garbage.
  write_tar_shard((dir_ / "c.tar").string(), {{"20.png", png},
                                              {"20.json", post_line(post, PostForm::tag_strings, {})},
                                              {"21.png", png},
                                              {"21.json", post_line(post_of(21), PostForm::tag_strings, {})}});
  const std::string whole = read_file((dir_ / "c.tar").string());
  test::write_bytes(dir_ / "shards" / "c-cut.tar", whole.substr(0, 1024 + 512 + png.size() + 700));
  std::string garbage = whole;
  for (size_t i = 1024 + ((png.size() + 511) / 512) * 512 + 1024; i < garbage.size() && i < 5000; ++i) garbage[i] = 'x';
  test::write_bytes(dir_ / "shards" / "d-garbage.tar", garbage);

  DataReport report;
  const auto dataset = open_dump(shard_files({(dir_ / "shards" / "*.tar").string()}), "", &report);
  // 10 and 11 (half a sample each), and 21 of the garbled shard (its metadata is past the break).
  EXPECT_EQ(report.skipped(DataProblem::incomplete_sample), 3) << report.summary("shards");
  EXPECT_EQ(report.skipped(DataProblem::broken_shard), 2) << report.summary("shards");
  // 12's tags as text carry no rating, which this dump's vocabulary has outputs for.
  EXPECT_EQ(report.skipped(DataProblem::unknown_rating), 1) << report.summary("shards");
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < dataset->size(); ++i) ids.push_back(dataset->id(i));
  // Shards in name order: b (13: its picture fails only when decoded), the two broken ones (each
  // kept what came before the break), then the good one.
  EXPECT_EQ(ids, (std::vector<int64_t>{13, 20, 20, 1, 2, 3, 4}));
  LoaderOptions options;
  options.batch_size = 8;
  options.shuffle = false;
  const std::vector<Batch> batches = all_batches(dataset, options);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), 6);  // 13 is skipped and counted when decoded
  EXPECT_EQ(batches[0].report.skipped(DataProblem::unsupported_format), 1);
}

TEST_F(DataShards, ShardsAreReadFrontToBackInAResumableOrder) {
  write_both(dir_, 30, 6);
  const auto dataset = open_dump(shard_files({(dir_ / "shards" / "*.tar").string()}), "");
  LoaderOptions options;
  options.batch_size = 4;
  options.seed = 7;
  options.shuffle_buffer = 1;  // no mixing within a shard: the shards' runs show
  {
    DataLoader loader(dataset, options);
    const std::vector<int64_t> order = loader.epoch_order(0);
    for (size_t i = 0; i < order.size(); i += 6) {  // each shard's 6 samples together, in file order
      for (size_t k = 1; k < 6; ++k) EXPECT_EQ(order[i + k], order[i] + int64_t(k)) << i;
      EXPECT_EQ(order[i] % 6, 0) << i;
    }
    EXPECT_NE(order, loader.epoch_order(1));
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], int64_t(i));
  }
  options.shuffle_buffer = 10;
  options.workers = 2;
  const std::vector<Batch> uninterrupted = all_batches(dataset, options, {}, 2);
  // Stopped after 3 batches of epoch 1: a new loader from the saved position goes on the same.
  const std::vector<Batch> resumed = all_batches(dataset, options, LoaderPosition{1, 12}, 1);
  const size_t per_epoch = uninterrupted.size() / 2;
  expect_same(resumed, std::vector<Batch>(uninterrupted.begin() + long(per_epoch) + 3, uninterrupted.end()));
  DataLoader again(dataset, options);
  EXPECT_EQ(again.epoch_order(1), DataLoader(dataset, options).epoch_order(1));
}

}  // namespace
}  // namespace i2v
