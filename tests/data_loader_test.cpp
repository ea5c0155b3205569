// Datasets (Danbooru-style and image folders), preprocessing, the DataLoader's determinism and
// resume, skip-and-count, the picture cache and channel statistics.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/data_fixture.h"
#include "data/channel_stats.h"
#include "data/data_loader.h"
#include "data/dataset.h"

namespace i2v {
namespace {

// Each test gets a fresh directory of its own, dir_.
using DataDataset = test::TempDirectoryTest;
using DataLoading = test::TempDirectoryTest;
using DataPreprocess = test::TempDirectoryTest;
using DataChannelStats = test::TempDirectoryTest;

namespace fs = std::filesystem;

std::shared_ptr<const DatasetContents> fixture_contents(const test::Fixture& fixture) {
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({fixture.metadata}, VocabularyOptions{}, report);
  DanbooruSource source;
  source.metadata = {fixture.metadata};
  source.images = fixture.root.string();
  return std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
}

// <root>/<class>/<n>.png for classes cat, dog, emu (per_class[c] pictures each), drawn from `seed`.
void make_image_folder(const fs::path& root, const std::vector<int>& per_class, uint64_t seed) {
  const char* names[] = {"cat", "dog", "emu"};
  for (size_t c = 0; c < per_class.size(); ++c)
    for (int i = 0; i < per_class[c]; ++i)
      test::write_bytes(root / names[c] / fmt::format("{:02d}.png", i),
                        test::png_bytes(test::drawing(40 + i % 7, 30 + i % 5, seed * 100 + c * 37 + uint64_t(i))));
}

std::shared_ptr<const DatasetContents> folder_contents(const fs::path& root) {
  ImageFolderSource source;
  source.root = root.string();
  return std::make_shared<const DatasetContents>(read_image_folder(source));
}

// Random crops and flips at size × size.
DatasetOptions augmenting(int size, ResizeMode resize) {
  DatasetOptions options;
  options.preprocess.size = size;
  options.preprocess.resize = resize;
  options.preprocess.crop = CropMode::random;
  options.preprocess.hflip = true;
  return options;
}

LoaderOptions loading(int64_t batch_size, uint64_t seed, int workers) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.seed = seed;
  options.workers = workers;
  return options;
}

Image solid(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  for (int i = 0; i < width * height; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

TEST_F(DataDataset, DanbooruTargetsAndBadPictures) {
  const fs::path& dir = dir_;
  const test::Fixture fixture = test::make_fixture(dir);
  const auto contents = fixture_contents(fixture);
  // ids 1..12 are posts with a picture path; 13 is an mp4; five lines were unreadable.
  EXPECT_EQ(contents->items.size(), 12u);
  EXPECT_EQ(contents->report.read(), 12);
  EXPECT_EQ(contents->report.skipped(DataProblem::unsupported_format), 1);
  EXPECT_EQ(contents->report.skipped(), 6);
  EXPECT_EQ(contents->class_names.size(), 11u);
  EXPECT_EQ(contents->class_categories[4], TagCategory::character);

  DatasetOptions options;
  options.preprocess.size = 16;
  const Dataset dataset(contents, std::nullopt, options);
  ASSERT_EQ(dataset.size(), 12);
  EXPECT_EQ(dataset.id(0), 1);
  EXPECT_EQ(dataset.describe(0), "id 1 (original/0001/1.jpg)");
  // Targets: outputs red circle blue long_hair | alice bob | wonderland elsewhere | safe questionable explicit.
  std::vector<float> target(11);
  dataset.target(0, target.data());
  EXPECT_EQ(target, (std::vector<float>{1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0}));
  dataset.target(1, target.data());  // the API form
  EXPECT_EQ(target, (std::vector<float>{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0}));
  dataset.target(3, target.data());
  EXPECT_EQ(target, (std::vector<float>{1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1}));
  EXPECT_THROW(dataset.class_index(0), Error);

  std::vector<float> chw(3 * 16 * 16);
  for (int64_t i = 0; i < 6; ++i) {
    std::fill(chw.begin(), chw.end(), NAN);
    EXPECT_NO_THROW(dataset.load(i, 0, chw.data())) << dataset.describe(i);
    for (float v : chw) ASSERT_TRUE(v >= 0 && v <= 1) << dataset.describe(i);
  }
  const DataProblem expected[] = {DataProblem::missing_file,    DataProblem::empty_file,
                                  DataProblem::truncated_image, DataProblem::corrupt_image,
                                  DataProblem::unsupported_format, DataProblem::too_many_pixels};
  for (int64_t i = 6; i < 12; ++i) {
    try {
      dataset.load(i, 0, chw.data());
      ADD_FAILURE() << dataset.describe(i) << " loaded";
    } catch (const DataError& e) {
      EXPECT_EQ(e.problem(), expected[i - 6]) << dataset.describe(i) << ": " << e.message();
      EXPECT_NE(e.message().find(fmt::format("{}.", i + 1)), std::string::npos) << e.message();
    }
  }
  const Sample sample = dataset.get(0);
  EXPECT_EQ(sample.image.shape(), (Shape{3, 16, 16}));
  EXPECT_EQ(sample.target.shape(), (Shape{11}));
  EXPECT_EQ(sample.id, 1);
}

TEST_F(DataDataset, AWrongImageRootFailsAtOnce) {
  const fs::path& dir = dir_;
  const test::Fixture fixture = test::make_fixture(dir);
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({fixture.metadata}, VocabularyOptions{}, report);
  DanbooruSource source;
  source.metadata = {fixture.metadata};
  source.images = (dir / "elsewhere").string();
  try {
    read_danbooru(source, vocabulary);
    ADD_FAILURE() << "read a dump without pictures";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("none of the first 12 pictures exists"), std::string::npos) << e.message();
  }
}

TEST_F(DataLoading, SkipsAndCountsBadPicturesPerEpoch) {
  const fs::path& dir = dir_;
  const test::Fixture fixture = test::make_fixture(dir);
  DatasetOptions options;
  options.preprocess.size = 8;
  auto dataset = std::make_shared<const Dataset>(fixture_contents(fixture), std::nullopt, options);
  std::vector<std::string> summaries;
  for (int workers : {0, 3}) {
    DataLoader loader(dataset, loading(5, 11, workers));
    EXPECT_EQ(loader.batches_per_epoch(), 3);
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<int64_t> ids;
      while (std::optional<Batch> batch = loader.next()) {
        EXPECT_EQ(batch->images.shape(), (Shape{batch->size(), 3, 8, 8}));
        EXPECT_EQ(batch->targets.shape(), (Shape{batch->size(), 11}));
        for (float v : batch->images.to_vector<float>()) ASSERT_TRUE(v >= 0 && v <= 1);
        EXPECT_EQ(batch->epoch, epoch);
        ids.insert(ids.end(), batch->ids.begin(), batch->ids.end());
      }
      std::sort(ids.begin(), ids.end());
      EXPECT_EQ(ids, fixture.good_ids);
      const DataReport& report = loader.last_epoch_report();
      EXPECT_EQ(report.read(), 6);
      EXPECT_EQ(report.skipped(), 6);
      for (DataProblem p : {DataProblem::missing_file, DataProblem::empty_file, DataProblem::truncated_image,
                            DataProblem::corrupt_image, DataProblem::unsupported_format, DataProblem::too_many_pixels})
        EXPECT_EQ(report.skipped(p), 1) << data_problem_name(p);
      EXPECT_EQ(report.examples().size(), DataReport::kDefaultExamples);
      const std::string summary = report.summary("epoch");
      EXPECT_NE(summary.find("epoch: 6 read, 6 skipped"), std::string::npos) << summary;
      EXPECT_NE(summary.find("first 5 skipped:\n    id "), std::string::npos) << summary;
      summaries.push_back(summary);
    }
  }
  // The first examples come in batch order, whatever the threads did.
  EXPECT_EQ(summaries[0], summaries[2]);
  EXPECT_EQ(summaries[1], summaries[3]);
}

TEST_F(DataLoading, NothingReadableIsAnError) {
  const fs::path& dir = dir_;
  make_image_folder(dir, {3, 2}, 1);
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) test::write_bytes(entry.path(), "not a picture");
  auto dataset = std::make_shared<const Dataset>(folder_contents(dir), std::nullopt);
  DataLoader loader(dataset, LoaderOptions{});
  try {
    loader.next();
    ADD_FAILURE() << "an epoch of garbage passed";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("nothing in epoch 0 was readable"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("unsupported format 5"), std::string::npos) << e.message();
  }
}

std::vector<Batch> epochs_of(const std::shared_ptr<const Dataset>& dataset, LoaderOptions options, int epochs,
                             LoaderPosition start = {}) {
  DataLoader loader(dataset, options, start);
  std::vector<Batch> batches;
  for (int e = 0; e < epochs; ++e)
    while (std::optional<Batch> batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].batch, b[i].batch);
    EXPECT_EQ(a[i].indices, b[i].indices);
    EXPECT_EQ(a[i].paths, b[i].paths);
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>()) << "batch " << i;
    EXPECT_EQ(a[i].targets.to_vector<int64_t>(), b[i].targets.to_vector<int64_t>());
  }
}

TEST_F(DataLoading, SameSeedSameBatchesWhateverTheWorkers) {
  const fs::path& dir = dir_;
  make_image_folder(dir, {9, 7, 8}, test::test_rng()());
  auto dataset =
      std::make_shared<const Dataset>(folder_contents(dir), std::nullopt, augmenting(12, ResizeMode::direct));
  LoaderOptions loader_options = loading(5, 3, 0);
  const std::vector<Batch> reference = epochs_of(dataset, loader_options, 2);
  ASSERT_EQ(reference.size(), 10u);
  EXPECT_EQ(reference.back().size(), 4);
  EXPECT_EQ(reference[4].targets.dtype(), DType::i64);
  for (int workers : {1, 2, 5}) {
    loader_options.workers = workers;
    loader_options.prefetch = workers + 1;
    expect_same_batches(epochs_of(dataset, loader_options, 2), reference);
  }
  // Epochs differ in order; another seed differs too; without shuffle the order is the index order.
  EXPECT_NE(reference[0].indices, reference[5].indices);
  loader_options.seed = 4;
  EXPECT_NE(epochs_of(dataset, loader_options, 1)[0].indices, reference[0].indices);
  loader_options.shuffle = false;
  loader_options.drop_last = true;
  const std::vector<Batch> ordered = epochs_of(dataset, loader_options, 1);
  ASSERT_EQ(ordered.size(), 4u);
  EXPECT_EQ(ordered[1].indices, (std::vector<int64_t>{5, 6, 7, 8, 9}));
}

TEST_F(DataLoading, ResumingFromAPositionGivesTheRemainingBatches) {
  const fs::path& dir = dir_;
  make_image_folder(dir, {6, 6, 5}, test::test_rng()());
  auto dataset =
      std::make_shared<const Dataset>(folder_contents(dir), Split::train, augmenting(10, ResizeMode::shorter_side));
  const LoaderOptions loader_options = loading(4, 99, 2);
  const std::vector<Batch> uninterrupted = epochs_of(dataset, loader_options, 3);
  const int64_t per_epoch = int64_t(uninterrupted.size()) / 3;
  // Interrupted after epoch 0 and 2 batches of epoch 1: a new loader from the saved position.
  LoaderPosition saved;
  {
    DataLoader loader(dataset, loader_options);
    while (loader.next()) {
    }
    EXPECT_EQ(loader.position(), (LoaderPosition{1, 0}));
    loader.next();
    loader.next();
    saved = loader.position();
    EXPECT_EQ(saved, (LoaderPosition{1, 2 * 4}));  // samples, not batches
  }
  DataLoader resumed(dataset, loader_options, saved);
  std::vector<Batch> rest;
  for (int e = 0; e < 2; ++e)
    while (std::optional<Batch> batch = resumed.next()) rest.push_back(std::move(*batch));
  expect_same_batches(rest, std::vector<Batch>(uninterrupted.begin() + per_epoch + 2, uninterrupted.end()));
  // The end of an epoch is a position too: the next call ends the epoch.
  const int64_t n = dataset->size();
  DataLoader at_end(dataset, loader_options, {0, n});
  EXPECT_EQ(at_end.position(), (LoaderPosition{0, n}));
  EXPECT_FALSE(at_end.next().has_value());
  EXPECT_EQ(at_end.position(), (LoaderPosition{1, 0}));
  EXPECT_THROW(DataLoader(dataset, loader_options, {0, n + 1}), Error);
}

// Rank r of R takes the r-th slice of every global batch: together the ranks' batches are the
// batches of one process with R times the batch (the same samples, augmented the same way).
TEST_F(DataLoading, RanksTogetherGiveTheSingleProcessBatches) {
  make_image_folder(dir_, {9, 7, 8}, test::test_rng()());
  auto dataset =
      std::make_shared<const Dataset>(folder_contents(dir_), std::nullopt, augmenting(8, ResizeMode::direct));
  const std::vector<Batch> single = epochs_of(dataset, loading(10, 5, 1), 2);
  ASSERT_EQ(single.size(), 6u);  // 24 samples: 10, 10, 4 per epoch
  std::vector<std::vector<Batch>> ranks;
  for (int r = 0; r < 2; ++r) {
    LoaderOptions options = loading(5, 5, 1);
    options.rank = r;
    options.ranks = 2;
    ranks.push_back(epochs_of(dataset, options, 2));
    ASSERT_EQ(ranks[r].size(), single.size()) << "every rank steps with the others, empty batches too";
  }
  for (size_t i = 0; i < single.size(); ++i) {
    std::vector<int64_t> together = ranks[0][i].indices;
    together.insert(together.end(), ranks[1][i].indices.begin(), ranks[1][i].indices.end());
    EXPECT_EQ(together, single[i].indices) << "batch " << i;
    EXPECT_EQ(ranks[0][i].global_size, single[i].size());
    std::vector<float> pictures = ranks[0][i].images.to_vector<float>();
    for (float v : ranks[1][i].images.to_vector<float>()) pictures.push_back(v);
    EXPECT_EQ(pictures, single[i].images.to_vector<float>()) << "batch " << i;
  }
  EXPECT_EQ(ranks[0][2].size(), 4);
  EXPECT_EQ(ranks[1][2].size(), 0) << "the short last batch does not reach rank 1";
  LoaderOptions bad = loading(5, 5, 0);
  bad.rank = 2;
  bad.ranks = 2;
  EXPECT_THROW(DataLoader(dataset, bad), Error);
}

// Positions count samples, so a run saved by one process resumes on two (or with another batch)
// and visits every remaining sample of the epoch exactly once.
TEST_F(DataLoading, ResumesWithAnotherNumberOfRanks) {
  make_image_folder(dir_, {9, 7, 8}, test::test_rng()());
  auto dataset =
      std::make_shared<const Dataset>(folder_contents(dir_), std::nullopt, augmenting(8, ResizeMode::direct));
  LoaderPosition saved;
  {
    DataLoader one(dataset, loading(10, 5, 0));
    ASSERT_TRUE(one.next().has_value());
    saved = one.position();
  }
  ASSERT_EQ(saved, (LoaderPosition{0, 10}));
  const std::vector<int64_t> order = DataLoader(dataset, loading(10, 5, 0)).epoch_order(0);
  std::vector<int64_t> rest;
  std::vector<std::unique_ptr<DataLoader>> loaders;
  for (int r = 0; r < 2; ++r) {
    LoaderOptions options = loading(3, 5, 0);
    options.rank = r;
    options.ranks = 2;
    loaders.push_back(std::make_unique<DataLoader>(dataset, options, saved));
  }
  for (int64_t b = 0; b < 3; ++b) {  // [10, 16), [16, 22), [22, 24)
    for (auto& loader : loaders) {
      std::optional<Batch> batch = loader->next();
      ASSERT_TRUE(batch.has_value());
      EXPECT_EQ(batch->epoch, 0);
      rest.insert(rest.end(), batch->indices.begin(), batch->indices.end());
    }
  }
  EXPECT_EQ(rest, std::vector<int64_t>(order.begin() + 10, order.end()));
  EXPECT_EQ(loaders[1]->position(), (LoaderPosition{0, 24}));
  for (auto& loader : loaders) EXPECT_FALSE(loader->next().has_value());
  EXPECT_EQ(loaders[0]->position(), (LoaderPosition{1, 0}));
  EXPECT_EQ(loaders[0]->next()->indices.size(), 3u) << "the next epoch starts with whole batches";
}

TEST_F(DataPreprocess, Illustration2VecPresetValues) {
  const fs::path& dir = dir_;
  test::write_bytes(dir / "one" / "a.png", test::png_bytes(solid(30, 20, 200, 100, 50)));
  DatasetOptions options;
  options.preprocess = Preprocess::i2v();
  const Dataset dataset(folder_contents(dir), std::nullopt, options);
  const Sample sample = dataset.get(0);
  ASSERT_EQ(sample.image.shape(), (Shape{3, 224, 224}));
  const std::vector<float> values = sample.image.to_vector<float>();
  // BGR, values 0-255 minus the mean (164.76139251, 167.47864617, 181.13838569) in BGR order.
  for (size_t i = 0; i < 224 * 224; ++i) {
    ASSERT_NEAR(values[i], 50 - 164.76139251f, 1e-3);
    ASSERT_NEAR(values[224 * 224 + i], 100 - 167.47864617f, 1e-3);
    ASSERT_NEAR(values[2 * 224 * 224 + i], 200 - 181.13838569f, 1e-3);
  }
  EXPECT_EQ(sample.target.to_vector<int64_t>(), (std::vector<int64_t>{0}));
}

TEST_F(DataPreprocess, FlipsQuartersAndCrops) {
  // A 40x20 picture: its four 20x10 quarters red, green, blue, white.
  Image picture = solid(40, 20, 0, 0, 0);
  const uint8_t colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 40; ++x) std::copy_n(colours[(y / 10) * 2 + x / 20], 3, picture.pixel(x, y));
  const fs::path& dir = dir_;
  test::write_bytes(dir / "one" / "a.png", test::png_bytes(picture));
  const auto contents = folder_contents(dir);
  const auto make = [&](const std::function<void(Preprocess&)>& edit) {
    DatasetOptions options;
    options.preprocess.size = 8;
    options.preprocess.scale = 1;
    edit(options.preprocess);
    return std::make_shared<Dataset>(contents, std::nullopt, options);
  };
  const auto pixel = [](const Sample& s, int c, int y, int x) { return s.image.item<float>({c, y, x}); };

  // Quarters: four samples per picture, each one quarter.
  const auto quarters = make([](Preprocess& p) { p.crop = CropMode::quarters; });
  ASSERT_EQ(quarters->size(), 4);
  for (int q = 0; q < 4; ++q) {
    const Sample s = quarters->get(q);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(pixel(s, c, 4, 4), colours[q][c], 1e-3) << "quarter " << q;
  }
  // Direct: the left column is red, the right one green; flipped, the other way round. Whether a
  // sample flips depends on its seed only.
  const auto flipping = make([](Preprocess& p) { p.hflip = true; });
  int flipped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const Sample s = flipping->get(0, seed);
    const bool is_flipped = pixel(s, 1, 0, 0) > 128;
    flipped += is_flipped;
    EXPECT_NEAR(pixel(s, 0, 0, is_flipped ? 7 : 0), 255, 1e-3);
    EXPECT_EQ(s.image.to_vector<float>(), flipping->get(0, seed).image.to_vector<float>());
  }
  EXPECT_GT(flipped, 8);
  EXPECT_LT(flipped, 32);
  // Shorter side + centre crop: the middle 20x20 square, half red/green above, blue/white below.
  const auto centre = make([](Preprocess& p) { p.resize = ResizeMode::shorter_side; });
  const Sample c = centre->get(0);
  EXPECT_NEAR(pixel(c, 0, 0, 0), 255, 1e-3);
  EXPECT_NEAR(pixel(c, 1, 0, 7), 255, 1e-3);
  EXPECT_NEAR(pixel(c, 2, 7, 0), 255, 1e-3);
  // Random crops vary with the seed and repeat with it; BGR swaps the channels.
  const auto random = make([](Preprocess& p) {
    p.resize = ResizeMode::shorter_side;
    p.resize_to = 16;
    p.crop = CropMode::random;
    p.order = ChannelOrder::bgr;
  });
  EXPECT_EQ(random->get(0, 5).image.to_vector<float>(), random->get(0, 5).image.to_vector<float>());
  EXPECT_NE(random->get(0, 5).image.to_vector<float>(), random->get(0, 6).image.to_vector<float>());
  EXPECT_NEAR(pixel(random->get(0, 5), 2, 0, 0) + pixel(random->get(0, 5), 1, 0, 0), 255, 1e-3);  // red or green
  // Options from JSON, with a preset as the base; typos are refused.
  const Preprocess from_json = Preprocess::from_json(nlohmann::json{{"preset", "i2v"}, {"size", 64}, {"hflip", true}});
  EXPECT_EQ(from_json.size, 64);
  EXPECT_EQ(from_json.order, ChannelOrder::bgr);
  EXPECT_FLOAT_EQ(from_json.mean[2], 181.13838569f);
  EXPECT_THROW(Preprocess::from_json(nlohmann::json{{"sise", 64}}), Error);
  EXPECT_EQ(Preprocess::from_json(Preprocess::imagenet().to_json()).describe(), Preprocess::imagenet().describe());
}

TEST_F(DataDataset, CacheGivesTheSameSamplesAndStillReportsBadOnes) {
  const fs::path& dir = dir_;
  make_image_folder(dir, {5, 4}, test::test_rng()());
  test::write_bytes(dir / "dog" / "broken.png", "\x89PNG\r\n\x1a\n broken");
  const auto contents = folder_contents(dir);
  DatasetOptions options = augmenting(16, ResizeMode::direct);
  auto plain = std::make_shared<const Dataset>(contents, std::nullopt, options);
  options.cache = true;
  auto cached = std::make_shared<const Dataset>(contents, std::nullopt, options);
  const LoaderOptions loader_options = loading(4, 0, 2);
  const std::vector<Batch> reference = epochs_of(plain, loader_options, 2);
  expect_same_batches(epochs_of(cached, loader_options, 2), reference);
  DataLoader loader(cached, loader_options);
  for (int epoch = 0; epoch < 2; ++epoch) {
    while (loader.next()) {
    }
    EXPECT_EQ(loader.last_epoch_report().skipped(DataProblem::corrupt_image), 1);
    EXPECT_EQ(loader.last_epoch_report().read(), 9);
  }
}

TEST_F(DataDataset, ImageFolderClassesAndSplits) {
  const fs::path& dir = dir_;
  make_image_folder(dir, {10, 5, 20}, 1);
  test::write_bytes(dir / "cat" / ".hidden.png", "x");
  test::write_bytes(dir / "cat" / "notes.txt", "x");
  fs::create_directories(dir / ".git");
  ImageFolderSource source;
  source.root = dir.string();
  source.fractions = {0.6, 0.2, 0.2};
  source.split_seed = 5;
  const auto contents = std::make_shared<const DatasetContents>(read_image_folder(source));
  EXPECT_EQ(contents->class_names, (std::vector<std::string>{"cat", "dog", "emu"}));
  EXPECT_EQ(contents->items.size(), 35u);
  EXPECT_EQ(contents->report.skipped(DataProblem::unsupported_format), 1);  // notes.txt
  EXPECT_EQ(contents->count(Split::train), 6 + 3 + 12);
  EXPECT_EQ(contents->count(Split::val), 2 + 1 + 4);
  const Dataset test_split(contents, Split::test);
  EXPECT_EQ(test_split.size(), 2 + 1 + 4);
  EXPECT_EQ(test_split.target_kind(), TargetKind::class_index);
  for (int64_t i = 0; i < test_split.size(); ++i)
    EXPECT_EQ(test_split.path(i).find(contents->class_names[size_t(test_split.class_index(i))]), dir.string().size() + 1);
  ImageFolderSource missing;
  missing.root = (dir / "missing").string();
  EXPECT_THROW(read_image_folder(missing), Error);
}

TEST_F(DataChannelStats, MeanAndStdOfTheTrainingPictures) {
  const fs::path& dir = dir_;
  test::write_bytes(dir / "a" / "1.png", test::png_bytes(solid(10, 10, 200, 100, 0)));
  test::write_bytes(dir / "a" / "2.bmp", test::bmp_bytes(solid(20, 14, 100, 50, 20)));
  test::write_bytes(dir / "a" / "3.png", "garbage");  // skipped, as in training
  DatasetOptions options;
  options.preprocess = Preprocess::i2v();
  options.preprocess.size = 8;
  options.preprocess.hflip = true;
  const Dataset dataset(folder_contents(dir), std::nullopt, options);
  const ChannelStats stats = compute_channel_stats(dataset, 2);
  EXPECT_EQ(stats.images, 2);
  EXPECT_NEAR(stats.mean[0], 150, 1e-6);
  EXPECT_NEAR(stats.mean[1], 75, 1e-6);
  EXPECT_NEAR(stats.mean[2], 10, 1e-6);
  EXPECT_NEAR(stats.std[0], 50, 1e-4);
  const std::string path = (dir / "mean.json").string();
  stats.save(path);
  const ChannelStats loaded = ChannelStats::load(path);
  EXPECT_EQ(loaded.mean, stats.mean);
  // In a BGR preprocessing with scale 1/255, the mean is (B, G, R) / 255.
  Preprocess bgr;
  bgr.order = ChannelOrder::bgr;
  bgr.use_stats(loaded, true);
  EXPECT_NEAR(bgr.mean[0], 10 / 255.0, 1e-6);
  EXPECT_NEAR(bgr.mean[2], 150 / 255.0, 1e-6);
  EXPECT_NEAR(bgr.std[2], 50 / 255.0, 1e-6);
  test::write_bytes(dir / "bad.json", "{\"format\":\"i2v-channel-stats\",\"mean\":[1,2]}");
  EXPECT_THROW(ChannelStats::load((dir / "bad.json").string()), Error);
}

}  // namespace
}  // namespace i2v
