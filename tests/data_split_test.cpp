// Published splits (data/split.h): id ranges modulo N and files of ids, besides the hash; a dump
// read with one keeps exactly the posts it places, and counts the ones it leaves out.
#include <gtest/gtest.h>

#include "data/dataset.h"
#include "data/split.h"
#include "data/vocabulary.h"
#include "tests/data_fixture.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;
using DataSplit = test::TempDirectoryTest;

TEST_F(DataSplit, RangesModuloNAsTheWdTaggersSplitDanbooru) {
  const SplitRule rule = split_rule_by_modulo("1000:train=0-899,val=950-999");
  EXPECT_EQ(rule.split_of(5123456), Split::train);  // remainder 456
  EXPECT_EQ(rule.split_of(7000), Split::train);
  EXPECT_EQ(rule.split_of(4899), Split::train);
  EXPECT_EQ(rule.split_of(4950), Split::val);
  EXPECT_EQ(rule.split_of(12999), Split::val);
  EXPECT_EQ(rule.split_of(4900), std::nullopt);  // 900-949: in no split
  EXPECT_EQ(rule.split_of(-50), Split::val);     // remainders are taken in 0..N-1
  EXPECT_EQ(rule.describe(), "id mod 1000: train 0-899 val 950-999");
  const SplitRule several = split_rule_by_modulo("10:train=0-4+6-7,val=5-5,test=8-9");
  EXPECT_EQ(several.split_of(16), Split::train);
  EXPECT_EQ(several.split_of(25), Split::val);
  EXPECT_EQ(several.split_of(38), Split::test);
  for (const char* bad : {"train=0-899", "1:train=0-0", "1000:train=0-899,val=850-999", "1000:train=0-1000",
                          "1000:val=0-10", "1000:train=5-2", "1000:train=0-10,train=20-30", "1000:train=a-b",
                          "1000:holdout=0-9,train=10-20"})
    EXPECT_THROW(split_rule_by_modulo(bad), Error) << bad;
}

TEST_F(DataSplit, FilesOfIdsRefuseAnIdListedTwice) {
  test::write_bytes(dir_ / "train.txt", "# the training ids\n1\n2\n\n3  \n");
  test::write_bytes(dir_ / "val.txt", "4\n5 # late additions\n");
  const SplitRule rule = split_rule_by_files({(dir_ / "train.txt").string(), (dir_ / "val.txt").string(), ""});
  EXPECT_EQ(rule.split_of(2), Split::train);
  EXPECT_EQ(rule.split_of(5), Split::val);
  EXPECT_EQ(rule.split_of(6), std::nullopt);
  EXPECT_EQ(rule.describe(), "listed ids: train 3, val 2, test 0");
  test::write_bytes(dir_ / "test.txt", "7\n3\n");
  try {
    split_rule_by_files({(dir_ / "train.txt").string(), "", (dir_ / "test.txt").string()});
    ADD_FAILURE() << "an id in two files was accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("id 3 is listed twice"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("train.txt line 5"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("test.txt line 2"), std::string::npos) << e.message();
  }
  test::write_bytes(dir_ / "bad.txt", "1\nnot-an-id\n");
  EXPECT_THROW(split_rule_by_files({(dir_ / "bad.txt").string(), "", ""}), Error);
  EXPECT_THROW(split_rule_by_files({(dir_ / "missing.txt").string(), "", ""}), Error);
}

TEST_F(DataSplit, ADumpKeepsExactlyThePostsTheRulePlaces) {
  const test::Fixture fixture = test::make_fixture(dir_);
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({fixture.metadata}, VocabularyOptions{}, report);
  DanbooruSource source;
  source.metadata = {fixture.metadata};
  source.images = fixture.root.string();
  source.split = split_rule_by_modulo("4:train=0-1,val=2-2");  // ids 1..12: remainder 3 left out
  const DatasetContents contents = read_danbooru(source, vocabulary);
  EXPECT_EQ(contents.outside_splits, 3);  // 3, 7, 11
  ASSERT_EQ(contents.items.size(), 9u);
  for (const DatasetItem& item : contents.items) {
    EXPECT_NE(item.id % 4, 3) << item.id;
    EXPECT_EQ(item.split, item.id % 4 == 2 ? Split::val : Split::train) << item.id;
  }
  EXPECT_EQ(contents.split_rule, "id mod 4: train 0-1 val 2-2");
  // Nothing placed: refused, saying why.
  test::write_bytes(dir_ / "none.txt", "999\n");
  source.split = split_rule_by_files({(dir_ / "none.txt").string(), "", ""});
  EXPECT_THROW(read_danbooru(source, vocabulary), Error);
}

}  // namespace
}  // namespace i2v
