// i2v artist pairs (train/artist_pairs.h): one classifier per pair of class folders and one over
// all, each restricted to its classes and scored on its test split; the matrix, table and CSV.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "tests/data_fixture.h"
#include "tests/temp_directory.h"
#include "train/artist_pairs.h"
#include "base/atomic_file.h"
#include "data/dataset.h"

namespace i2v {
namespace {

using nlohmann::json;

class ArtistPairsTest : public test::TempDirectoryTest {
 protected:
  // <dir>/art/<artist>/<n>.png, 5 pictures per artist: 3 train, 1 validation, 1 test.
  void SetUp() override {
    TempDirectoryTest::SetUp();
    for (const std::string artist : {"ann", "bob", "cy"})
      for (int i = 0; i < 5; ++i)
        test::write_bytes(dir_ / "art" / artist / fmt::format("{:02d}.png", i),
                          test::png_bytes(test::drawing(36 + i % 5, 30 + i % 3, uint64_t(artist[0]) * 100 + i)));
  }

  json base() const {
    return {{"run", path("runs")},
            {"seed", 3},
            {"model", {{"name", "artist-conv2d"}}},
            {"data",
             {{"folders", path("art")},
              {"split_fractions", "0.6,0.2,0.2"},
              {"preprocess", {{"size", 32}, {"crop", "quarters"}}},
              {"augment", {{"hflip", true}}},
              {"batch_size", 12},
              {"workers", 1}}},
            {"schedule", {{"lr", 0.01}}},
            {"epochs", 1}};
  }
};

TEST_F(ArtistPairsTest, FolderRestrictedToClasses) {
  ImageFolderSource source;
  source.root = path("art");
  source.classes = {"cy", "ann"};
  const DatasetContents contents = read_image_folder(source);
  EXPECT_EQ(contents.class_names, (std::vector<std::string>{"ann", "cy"}));
  EXPECT_EQ(contents.items.size(), 10u);
  source.classes = {"dan"};
  EXPECT_THROW(read_image_folder(source), Error);
}

TEST_F(ArtistPairsTest, EveryPairThenAll) {
  std::vector<std::string> trained;
  const ArtistPairs r = artist_pairs(base(), {}, [&](const ArtistScore& s) {
    std::string names;
    for (const std::string& c : s.classes) names += c + " ";
    trained.push_back(names);
  });
  EXPECT_EQ(trained, (std::vector<std::string>{"ann bob ", "ann cy ", "bob cy ", "ann bob cy "}));
  ASSERT_EQ(r.artists, (std::vector<std::string>{"ann", "bob", "cy"}));
  for (size_t a = 0; a < 3; ++a) {
    EXPECT_TRUE(std::isnan(r.accuracy[a][a]));
    for (size_t b = a + 1; b < 3; ++b) {
      EXPECT_EQ(r.accuracy[a][b], r.accuracy[b][a]);
      const ArtistScore& s = r.pairs[a][b];
      EXPECT_EQ(s.classes, (std::vector<std::string>{r.artists[a], r.artists[b]}));
      EXPECT_EQ(s.test_samples, 2 * 4) << "1 test picture per artist, 4 quarters each";
      EXPECT_EQ(s.train_samples, 2 * 3 * 4);
    }
  }
  // The accuracy is the confusion matrix's diagonal share.
  int64_t total = 0, right = 0;
  for (size_t t = 0; t < 3; ++t) {
    int64_t row = 0;
    for (size_t p = 0; p < 3; ++p) row += r.all.confusion[t][p];
    EXPECT_EQ(row, 4) << r.all.classes[t];
    total += row;
    right += r.all.confusion[t][t];
  }
  EXPECT_EQ(total, r.all.test_samples);
  EXPECT_DOUBLE_EQ(r.all.accuracy, double(right) / double(total));
  EXPECT_TRUE(std::filesystem::exists(path("runs/ann-vs-cy/final.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(path("runs/all/final.safetensors")));
  EXPECT_EQ(json::parse(read_file(path("runs/all/config.json"))).at("data").at("classes"),
            json::array({"ann", "bob", "cy"}));

  const std::string csv = artist_pairs_csv(r);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "artist,ann,bob,cy");
  EXPECT_NE(csv.find(fmt::format("\nbob,{:.4f},,{:.4f}\n", r.accuracy[1][0], r.accuracy[1][2])), std::string::npos)
      << csv;
  const std::string table = artist_pairs_table(r);
  EXPECT_NE(table.find("all 3 artists"), std::string::npos) << table;
  EXPECT_EQ(artist_pairs_json(r).at("pairs").size(), 3u);
}

TEST_F(ArtistPairsTest, Refusals) {
  EXPECT_THROW(artist_pairs(base(), {"ann"}), Error);
  json no_folders = base();
  no_folders["data"].erase("folders");
  EXPECT_THROW(artist_pairs(no_folders, {}), Error);
}

}  // namespace
}  // namespace i2v
