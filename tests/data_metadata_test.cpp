// Danbooru-style metadata in both forms, rating vintages, the tag vocabulary and the splits.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/data_fixture.h"
#include "base/atomic_file.h"
#include "data/metadata.h"
#include "data/split.h"
#include "data/vocabulary.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// Each test gets a fresh directory of its own, dir_.
using DataMetadata = test::TempDirectoryTest;
using DataVocabulary = test::TempDirectoryTest;
using DataSplit = test::TempDirectoryTest;

std::vector<Post> read_posts(const std::string& file, DataReport& report) {
  std::vector<Post> posts;
  for_each_post({file}, [&](Post& post) { posts.push_back(post); }, report);
  return posts;
}

TEST_F(DataMetadata, ReadsBothFormsAndSkipsBadLines) {
  const fs::path& dir = dir_;
  const test::Fixture fixture = test::make_fixture(dir);
  DataReport report;
  const std::vector<Post> posts = read_posts(fixture.metadata, report);
  ASSERT_EQ(posts.size(), 13u);  // ids 1..13
  for (size_t i = 0; i < posts.size(); ++i) EXPECT_EQ(posts[i].id, int64_t(i) + 1);
  // Danbooru2017 form, numbers as strings.
  EXPECT_EQ(posts[0].rating, 's');
  EXPECT_EQ(posts[0].file_ext, "jpg");
  ASSERT_EQ(posts[0].tags.size(), 5u);
  EXPECT_EQ(posts[0].tags[2].name, "alice");
  EXPECT_EQ(posts[0].tags[2].category, TagCategory::character);
  EXPECT_EQ(posts[0].tags[4].category, TagCategory::artist);
  EXPECT_EQ(posts[0].line, "metadata.jsonl:1");
  // API form: tag_string_* by category.
  EXPECT_EQ(posts[1].rating, 'q');
  std::vector<std::pair<std::string, TagCategory>> tags;
  for (const Tag& tag : posts[1].tags) tags.push_back({tag.name, tag.category});
  const std::vector<std::pair<std::string, TagCategory>> expected = {
      {"blue", TagCategory::general},      {"circle", TagCategory::general}, {"someone", TagCategory::artist},
      {"wonderland", TagCategory::copyright}, {"bob", TagCategory::character}, {"highres", TagCategory::meta}};
  EXPECT_EQ(tags, expected);
  // The bad lines: counted by reason, the first few kept with file:line.
  EXPECT_EQ(report.read(), 13);
  EXPECT_EQ(report.skipped(DataProblem::malformed_json), 3);
  EXPECT_EQ(report.skipped(DataProblem::unknown_rating), 1);
  EXPECT_EQ(report.skipped(DataProblem::unknown_category), 1);
  EXPECT_EQ(report.skipped(), 5);
  ASSERT_EQ(report.examples().size(), 5u);
  EXPECT_EQ(report.examples()[0].where, "metadata.jsonl:15");  // line 4 is blank
  EXPECT_EQ(report.examples()[0].problem, DataProblem::malformed_json);
  EXPECT_EQ(report.examples()[3].problem, DataProblem::unknown_rating);
  EXPECT_NE(report.examples()[4].message.find("'2'"), std::string::npos) << report.examples()[4].message;
  const std::string summary = report.summary("metadata");
  EXPECT_NE(summary.find("13 read, 5 skipped (malformed JSON 3, unknown rating 1, unknown category 1)"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("metadata.jsonl:18: unknown rating"), std::string::npos) << summary;
  EXPECT_EQ(report.to_json()["problems"]["malformed_json"], 3);
}

TEST_F(DataMetadata, SingleTagStringAndOddValues) {
  const fs::path& dir = dir_;
  test::write_bytes(dir / "a.jsonl",
                    R"({"id":5,"rating":"General","tag_string":"a_b  c"})" "\n"
                    R"({"id":"x7"})" "\n"
                    R"({"id":6,"tags":[{"name":"n","category":"character"}],"rating":null,"path":"p/q.png"})" "\n"
                    R"({"id":7,"tags":[{"category":"0"}]})" "\n"
                    R"({"id":8,"tags":[{"name":"m","category":6}]})" "\n");
  DataReport report;
  const std::vector<Post> posts = read_posts((dir / "a.jsonl").string(), report);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].rating, 'g');
  ASSERT_EQ(posts[0].tags.size(), 2u);
  EXPECT_EQ(posts[0].tags[0].name, "a_b");
  EXPECT_EQ(posts[0].tags[1].category, TagCategory::general);
  EXPECT_EQ(posts[1].rating, 0);
  EXPECT_EQ(posts[1].path, "p/q.png");
  EXPECT_EQ(posts[1].tags[0].category, TagCategory::character);
  EXPECT_EQ(report.skipped(DataProblem::malformed_json), 2);  // id "x7", a tag without a name
  EXPECT_EQ(report.skipped(DataProblem::unknown_category), 1);
}

// Random posts, written in each form and read back: every field comes back as it was (in the
// tag-string form the tags come back grouped by category, in the order for_each_post reads them).
TEST_F(DataMetadata, WrittenPostsReadBackTheSame) {
  auto rng = test::test_rng();
  const auto pick = [&](auto... choices) {
    const std::vector<std::common_type_t<decltype(choices)...>> all = {choices...};
    return all[size_t(rng() % all.size())];
  };
  const std::vector<TagCategory> read_order = {TagCategory::general, TagCategory::artist, TagCategory::copyright,
                                               TagCategory::character, TagCategory::meta};
  for (PostForm form : {PostForm::tags, PostForm::tag_strings}) {
    std::vector<Post> posts(20);
    for (Post& post : posts) {
      post.id = int64_t(rng() % 10000000) + 1;
      post.rating = pick(char(0), 'g', 's', 'q', 'e');
      post.file_ext = pick(std::string(), std::string("jpg"), std::string("png"));
      post.path = pick(std::string(), std::string("extra/a \"quoted\" name.png"));
      for (size_t t = rng() % 6; t > 0; --t)
        post.tags.push_back({fmt::format("{}_{}", pick("long_hair", "東方", "a\\b", "c'est"), rng() % 100),
                             read_order[size_t(rng() % read_order.size())]});
      if (form == PostForm::tags && rng() % 2) post.tags.push_back({"with space", TagCategory::meta});
    }
    const TagIds tag_ids = number_tags(posts);
    std::string lines;
    for (const Post& post : posts) lines += post_line(post, form, tag_ids) + "\n";
    const std::string file = (dir_ / "posts.jsonl").string();
    write_file_atomically(file, lines);

    DataReport report;
    const std::vector<Post> read = read_posts(file, report);
    ASSERT_EQ(read.size(), posts.size());
    for (size_t i = 0; i < posts.size(); ++i) {
      std::vector<Tag> expected = posts[i].tags;
      if (form == PostForm::tag_strings)
        std::stable_sort(expected.begin(), expected.end(), [&](const Tag& a, const Tag& b) {
          return std::find(read_order.begin(), read_order.end(), a.category) <
                 std::find(read_order.begin(), read_order.end(), b.category);
        });
      EXPECT_EQ(read[i].id, posts[i].id);
      EXPECT_EQ(read[i].rating, posts[i].rating);
      EXPECT_EQ(read[i].file_ext, posts[i].file_ext);
      EXPECT_EQ(read[i].path, posts[i].path);
      ASSERT_EQ(read[i].tags.size(), expected.size()) << lines;
      for (size_t t = 0; t < expected.size(); ++t) {
        EXPECT_EQ(read[i].tags[t].name, expected[t].name);
        EXPECT_EQ(read[i].tags[t].category, expected[t].category);
      }
    }
  }
}

TEST_F(DataMetadata, WritingRefusesWhatTheFormCannotHold) {
  Post post;
  post.id = 12;
  post.tags = {{"with space", TagCategory::general}};
  const TagIds tag_ids = number_tags({post});
  // The Danbooru2017 form writes numbers as strings, those of the extra fields too.
  const nlohmann::json line = nlohmann::json::parse(post_line(post, PostForm::tags, tag_ids, {{"image_width", 64}}));
  EXPECT_EQ(line["id"], "12");
  EXPECT_EQ(line["image_width"], "64");
  EXPECT_EQ(line["tags"][0]["id"], "1");
  EXPECT_THROW(post_line(post, PostForm::tags, TagIds{}), Error);  // a tag without an id
  EXPECT_THROW(post_line(post, PostForm::tag_strings, tag_ids), Error);
  post.tags = {{"safe", TagCategory::rating}};
  EXPECT_THROW(post_line(post, PostForm::tags, number_tags({post})), Error);
}

TEST_F(DataMetadata, MetadataFilesOfAFolderAreSorted) {
  const fs::path& dir = dir_;
  test::write_bytes(dir / "b.json", "{\"id\":2}\n");
  test::write_bytes(dir / "a.jsonl", "{\"id\":1}\n");
  test::write_bytes(dir / "notes.txt", "not metadata\n");
  const std::vector<std::string> files = metadata_files({dir.string()});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(std::filesystem::path(files[0]).filename(), "a.jsonl");
  EXPECT_THROW(metadata_files({(dir / "missing").string()}), Error);
}

TEST_F(DataMetadata, RatingVintages) {
  const RatingScheme legacy(RatingVintage::legacy, 3);
  EXPECT_EQ(legacy.index('s'), 0);
  EXPECT_EQ(legacy.index('q'), 1);
  EXPECT_EQ(legacy.index('e'), 2);
  EXPECT_EQ(legacy.index('g'), -1);
  const RatingScheme modern(RatingVintage::y2022, 3);
  EXPECT_EQ(modern.index('g'), 0);  // general and sensitive are what "safe" was
  EXPECT_EQ(modern.index('s'), 0);
  EXPECT_EQ(modern.index('e'), 2);
  const RatingScheme four(RatingVintage::y2022, 4);
  EXPECT_EQ(four.names(), (std::vector<std::string>{"general", "sensitive", "questionable", "explicit"}));
  EXPECT_EQ(four.index('s'), 1);
  EXPECT_EQ(four.index('q'), 2);
  EXPECT_THROW(RatingScheme(RatingVintage::legacy, 4), Error);
  EXPECT_EQ(resolve_rating_vintage(RatingVintage::automatic, true), RatingVintage::y2022);
  EXPECT_EQ(resolve_rating_vintage(RatingVintage::automatic, false), RatingVintage::legacy);
  EXPECT_EQ(resolve_rating_vintage(RatingVintage::legacy, true), RatingVintage::legacy);
}

TEST_F(DataMetadata, ImagePaths) {
  Post post;
  post.id = 2921;
  post.file_ext = "jpg";
  EXPECT_EQ(post_image_path(post, ImageLayout::original), "original/0921/2921.jpg");
  EXPECT_EQ(post_image_path(post, ImageLayout::px512), "512px/0921/2921.jpg");
  post.id = 7;
  post.file_ext = "png";
  EXPECT_EQ(post_image_path(post, ImageLayout::original), "original/0007/7.png");
  post.file_ext = "webm";
  EXPECT_THROW(post_image_path(post, ImageLayout::original), DataError);
  EXPECT_EQ(post_image_path(post, ImageLayout::px512), "512px/0007/7.jpg");
  EXPECT_THROW(post_image_path(post, ImageLayout::path), DataError);
  post.path = "somewhere/x.png";  // an explicit path always wins
  EXPECT_EQ(post_image_path(post, ImageLayout::original), "somewhere/x.png");
  const fs::path& dir = dir_;
  EXPECT_EQ(resolve_image_layout(ImageLayout::automatic, dir.string()), ImageLayout::original);
  std::filesystem::create_directories(dir / "512px");
  EXPECT_EQ(resolve_image_layout(ImageLayout::automatic, dir.string()), ImageLayout::px512);
  std::filesystem::create_directories(dir / "original");
  EXPECT_EQ(resolve_image_layout(ImageLayout::automatic, dir.string()), ImageLayout::original);
}

TEST_F(DataVocabulary, MostFrequentPerCategoryInOutputOrder) {
  const fs::path& dir = dir_;
  const test::Fixture fixture = test::make_fixture(dir);
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({fixture.metadata}, VocabularyOptions{}, report);
  EXPECT_EQ(report.read(), 13);
  EXPECT_EQ(report.skipped(), 5);
  std::vector<std::string> names;
  for (const VocabularyEntry& e : vocabulary.entries()) names.push_back(e.name);
  // general: red 7, circle 5, blue 4, long_hair 2; character: alice 3, bob 2; copyright:
  // wonderland 3, elsewhere 2; artist and meta: none by default; ratings.
  EXPECT_EQ(names, (std::vector<std::string>{"red", "circle", "blue", "long_hair", "alice", "bob", "wonderland",
                                             "elsewhere", "safe", "questionable", "explicit"}));
  EXPECT_EQ(vocabulary.entry(0).count, 7);
  EXPECT_EQ(vocabulary.entry(8).count, 10);  // safe
  EXPECT_EQ(vocabulary.entry(9).count, 2);
  EXPECT_EQ(vocabulary.first(TagCategory::character), 4);
  EXPECT_EQ(vocabulary.count(TagCategory::copyright), 2);
  EXPECT_EQ(vocabulary.index(TagCategory::general, "blue"), 2);
  EXPECT_EQ(vocabulary.index(TagCategory::character, "blue"), -1);
  EXPECT_EQ(vocabulary.rating_index('q'), 9);
  EXPECT_EQ(vocabulary.rating_vintage(), RatingVintage::legacy);
  EXPECT_EQ(vocabulary.display_name(3), "long hair");
  EXPECT_EQ(vocabulary.posts(), 13);

  // Sizes per category, ties broken by name, artist and meta when asked for, no ratings.
  VocabularyOptions options;
  options.general = 2;
  options.character = 0;
  options.copyright = 1;
  options.artist = 5;
  options.meta = 1;
  options.ratings = false;
  DataReport again;
  const Vocabulary small = build_vocabulary({fixture.metadata}, options, again);
  names.clear();
  for (const VocabularyEntry& e : small.entries()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"red", "circle", "wonderland", "someone", "highres"}));
  EXPECT_EQ(small.rating_index('s'), -1);

  // Round trip through the JSON file: the same entries, underscores kept.
  const std::string path = (dir / "vocab.json").string();
  vocabulary.save(path);
  const Vocabulary loaded = Vocabulary::load(path);
  ASSERT_EQ(loaded.size(), vocabulary.size());
  for (int64_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded.entry(i).name, vocabulary.entry(i).name);
    EXPECT_EQ(loaded.entry(i).category, vocabulary.entry(i).category);
    EXPECT_EQ(loaded.entry(i).count, vocabulary.entry(i).count);
  }
  EXPECT_NE(read_file(path).find("\"long_hair\""), std::string::npos);
}

TEST_F(DataVocabulary, DefaultsGiveTheIllustration2VecLayout) {
  // 600 general, 600 character, 600 copyright tags of decreasing frequency: 512 of each kept.
  const fs::path& dir = dir_;
  std::string lines;
  for (int post = 0; post < 600; ++post) {
    std::string general, character, copyright;
    for (int t = 0; t <= post; t += 1) {
      if (t % 3 != post % 3 && t != post) continue;
      general += fmt::format(" g{}", t);
      character += fmt::format(" c{}", t);
      copyright += fmt::format(" k{}", t);
    }
    lines += fmt::format(R"({{"id":{},"rating":"{}","tag_string_general":"{}","tag_string_character":"{}","tag_string_copyright":"{}"}})"
                         "\n",
                         post, "sqe"[post % 3], general, character, copyright);
  }
  test::write_bytes(dir / "m.jsonl", lines);
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({(dir / "m.jsonl").string()}, VocabularyOptions{}, report);
  EXPECT_EQ(vocabulary.size(), 1539);
  EXPECT_EQ(vocabulary.first(TagCategory::general), 0);
  EXPECT_EQ(vocabulary.first(TagCategory::character), 512);
  EXPECT_EQ(vocabulary.first(TagCategory::copyright), 1024);
  EXPECT_EQ(vocabulary.first(TagCategory::rating), 1536);
  EXPECT_EQ(vocabulary.entry(1538).name, "explicit");
  for (int64_t i = 1; i < 512; ++i) EXPECT_GE(vocabulary.entry(i - 1).count, vocabulary.entry(i).count);
}

TEST_F(DataVocabulary, VintageAutoDetectionAndBadFiles) {
  const fs::path& dir = dir_;
  test::write_bytes(dir / "new.jsonl", "{\"id\":1,\"rating\":\"g\"}\n{\"id\":2,\"rating\":\"s\"}\n{\"id\":3,\"rating\":\"e\"}\n");
  DataReport report;
  const Vocabulary modern = build_vocabulary({(dir / "new.jsonl").string()}, VocabularyOptions{}, report);
  EXPECT_EQ(modern.rating_vintage(), RatingVintage::y2022);
  EXPECT_EQ(modern.entry(0).name, "safe");
  EXPECT_EQ(modern.entry(0).count, 2);  // g and s
  VocabularyOptions four;
  four.rating_classes = 4;
  const Vocabulary detailed = build_vocabulary({(dir / "new.jsonl").string()}, four, report);
  EXPECT_EQ(detailed.size(), 4);
  EXPECT_EQ(detailed.rating_index('s'), 1);
  // Told it is a legacy dump: 'g' is an unknown rating.
  VocabularyOptions legacy;
  legacy.vintage = RatingVintage::legacy;
  DataReport legacy_report;
  const Vocabulary old = build_vocabulary({(dir / "new.jsonl").string()}, legacy, legacy_report);
  EXPECT_EQ(legacy_report.skipped(DataProblem::unknown_rating), 1);
  EXPECT_EQ(old.entry(0).count, 1);

  const auto rejects = [&](const std::string& text, const std::string& words) {
    test::write_bytes(dir / "v.json", text);
    try {
      Vocabulary::load((dir / "v.json").string());
      ADD_FAILURE() << "loaded " << text;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(words), std::string::npos) << e.message();
      EXPECT_NE(e.message().find("v.json"), std::string::npos) << e.message();
    }
  };
  rejects("{", "not valid JSON");
  rejects(R"({"format":"other"})", "not an i2v vocabulary");
  rejects(R"({"format":"i2v-vocabulary","version":1,"tags":[{"index":1,"name":"a","category":"general"}]})", "index");
  rejects(R"({"format":"i2v-vocabulary","version":1,"tags":[{"index":0,"name":"a","category":"rating"}]})", "rating");
  rejects(R"({"format":"i2v-vocabulary","version":1,"tags":[{"index":0,"name":"a","category":"character"},)"
          R"({"index":1,"name":"b","category":"general"}]})",
          "order");
  rejects(R"({"format":"i2v-vocabulary","version":1,"tags":[{"index":0,"name":"a","category":"weird"}]})", "weird");
  EXPECT_THROW(Vocabulary::load((dir / "missing.json").string()), Error);
}

TEST_F(DataSplit, ByIdIsStableAndFollowsTheFractions) {
  const SplitFractions fractions{0.7, 0.2, 0.1};
  int counts[3] = {0, 0, 0};
  for (int64_t id = 0; id < 20000; ++id) {
    const Split split = split_of_id(id, fractions);
    EXPECT_EQ(split, split_of_id(id, fractions));
    ++counts[int(split)];
  }
  EXPECT_NEAR(counts[0] / 20000.0, 0.7, 0.015);
  EXPECT_NEAR(counts[1] / 20000.0, 0.2, 0.015);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.015);
  // A different salt is a different split; the fractions still hold.
  int moved = 0;
  for (int64_t id = 0; id < 1000; ++id) moved += split_of_id(id, fractions, 1) != split_of_id(id, fractions, 0);
  EXPECT_GT(moved, 200);
  // Pinned: the split of a post must never change between versions of the framework.
  std::string pinned;
  for (int64_t id : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2921, 123456789}) pinned += split_name(split_of_id(id, SplitFractions{0.4, 0.3, 0.3}))[0];
  EXPECT_EQ(pinned, "tttvttttttvv");
  EXPECT_EQ(parse_split_fractions("0.64,0.16,0.2").val, 0.16);
  EXPECT_THROW(parse_split_fractions("0.5,0.2"), Error);
  EXPECT_THROW(parse_split_fractions("0.5,0.2,0.2"), Error);
}

TEST_F(DataSplit, StratifiedKeepsEveryClassInProportion) {
  std::vector<int64_t> classes;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 50 + c * 25; ++i) classes.push_back(c);
  const SplitFractions fractions{0.64, 0.16, 0.2};
  const std::vector<Split> splits = stratified_split(classes, fractions, 7);
  for (int c = 0; c < 3; ++c) {
    int n = 0, train = 0, val = 0;
    for (size_t i = 0; i < classes.size(); ++i) {
      if (classes[i] != c) continue;
      ++n;
      train += splits[i] == Split::train;
      val += splits[i] == Split::val;
    }
    EXPECT_EQ(train, int(std::llround(n * 0.64)));
    EXPECT_EQ(val, int(std::llround(n * 0.16)));
  }
  EXPECT_EQ(splits, stratified_split(classes, fractions, 7));
  EXPECT_NE(splits, stratified_split(classes, fractions, 8));
}

}  // namespace
}  // namespace i2v
