// The emoji converter on packages made here (a folder and a .tgz, in the layout of npm's
// emoji-datasource-<vendor>), and the tarball reader.
#include <zlib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/data_fixture.h"
#include "base/atomic_file.h"
#include "data/dataset.h"
#include "data/emoji.h"
#include "data/tarball.h"

namespace i2v {
namespace {

// Each test gets a fresh directory of its own, dir_.
using DataEmoji = test::TempDirectoryTest;
using DataTarball = test::TempDirectoryTest;

namespace fs = std::filesystem;
using nlohmann::json;

// A tar archive as npm pack writes it: ustar entries under package/.
std::string tar(const std::map<std::string, std::string>& files) {
  std::string archive;
  for (const auto& [name, contents] : files) {
    std::string header(512, '\0');
    std::copy(name.begin(), name.end(), header.begin());
    const auto octal = [&](size_t offset, size_t width, uint64_t value) {
      const std::string text = fmt::format("{:0{}o}", value, width - 1);
      std::copy(text.begin(), text.end(), header.begin() + ptrdiff_t(offset));
    };
    octal(100, 8, 0644);
    octal(124, 12, contents.size());
    header[156] = '0';
    std::copy_n("ustar\00000", 8, header.begin() + 257);
    std::fill_n(header.begin() + 148, 8, ' ');
    uint64_t sum = 0;
    for (unsigned char c : header) sum += c;
    octal(148, 7, sum);
    archive += header + contents + std::string((512 - contents.size() % 512) % 512, '\0');
  }
  archive += std::string(1024, '\0');
  return archive;
}

// `contents` gzip-compressed, as a .tgz file is.
std::string gzip(const std::string& contents) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);  // 16: gzip wrapper
  std::string out(deflateBound(&z, uLong(contents.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(contents.data()));
  z.avail_in = uInt(contents.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

json emoji_json() {
  return json::parse(R"([
    {"name":"GRINNING FACE","unified":"1F600","image":"1f600.png","short_name":"grinning","short_names":["grinning"],
     "category":"Smileys & Emotion","subcategory":"face-smiling","sort_order":2,
     "has_img_twitter":true,"has_img_google":true,"has_img_apple":true,"has_img_facebook":true},
    {"name":"WAVING HAND SIGN","unified":"1F44B","image":"1f44b.png","short_name":"wave","short_names":["wave","waving_hand"],
     "category":"People & Body","subcategory":"hand-fingers-open","sort_order":3,
     "has_img_twitter":true,"has_img_google":true,"has_img_apple":true,"has_img_facebook":true,
     "skin_variations":{"1F3FB":{"unified":"1F44B-1F3FB","image":"1f44b-1f3fb.png",
                                 "has_img_twitter":true,"has_img_google":false}}},
    {"name":"SMILING FACE WITH HEART-SHAPED EYES","unified":"1F60D","image":"1f60d.png","short_name":"heart_eyes",
     "short_names":["heart_eyes"],"category":"Smileys & Emotion","subcategory":"face-affection","sort_order":1,
     "has_img_twitter":true,"has_img_google":true,"has_img_apple":true,"has_img_facebook":true}
  ])");
}

// Packages for twitter (an extracted folder) and google (a .tgz, plus an older one beside it).
fs::path make_packages(const fs::path& dir) {
  const fs::path packages = dir / "packages";
  const json emoji = emoji_json();
  const fs::path twitter = packages / "emoji-datasource-twitter" / "package";
  test::write_bytes(twitter / "emoji.json", emoji.dump());
  test::write_bytes(twitter / "package.json", R"({"name":"emoji-datasource-twitter","version":"16.0.0"})");
  std::map<std::string, std::string> google = {
      {"package/emoji.json", emoji.dump()},
      {"package/package.json", R"({"name":"emoji-datasource-google","version":"16.0.0"})"},
      {"package/README.md", "not needed"}};
  uint64_t seed = 1;
  for (const char* image : {"1f600.png", "1f44b.png", "1f44b-1f3fb.png", "1f60d.png"}) {
    test::write_bytes(twitter / "img" / "twitter" / "64" / image, test::png_bytes(test::drawing(64, 64, seed)));
    if (std::string(image) != "1f44b-1f3fb.png")
      google[std::string("package/img/google/64/") + image] = test::rgba_png_bytes(test::drawing(64, 64, seed + 10), [](int, int) { return 200; });
    ++seed;
  }
  test::write_bytes(packages / "emoji-datasource-google-16.0.0.tgz", gzip(tar(google)));
  test::write_bytes(packages / "emoji-datasource-google-9.0.0.tgz", "an older version, never read");
  return packages;
}

// Options reading the packages made in `dir`, writing <dir>/dump.
EmojiOptions options_for(const fs::path& dir, std::vector<std::string> vendors) {
  EmojiOptions options;
  options.packages = make_packages(dir).string();
  options.output = (dir / "dump").string();
  options.vendors = std::move(vendors);
  return options;
}

std::map<int64_t, Post> read_dump(const std::string& metadata) {
  std::map<int64_t, Post> posts;
  DataReport report;
  for_each_post({metadata}, [&](Post& post) { posts[post.id] = post; }, report);
  EXPECT_EQ(report.skipped(), 0);
  return posts;
}

std::set<std::string> names_of(const Post& post, TagCategory category) {
  std::set<std::string> names;
  for (const Tag& tag : post.tags)
    if (tag.category == category) names.insert(tag.name);
  return names;
}

TEST_F(DataEmoji, ConvertsPackagesIntoADanbooruStyleDump) {
  const fs::path& dir = dir_;
  EmojiOptions options = options_for(dir, {"google", "twitter"});
  options.class_folders = true;
  const EmojiSummary summary = convert_emoji(options);
  ASSERT_EQ(summary.vendors.size(), 2u);
  EXPECT_EQ(summary.vendors[0].vendor, "twitter");  // vendors in their fixed order
  EXPECT_EQ(summary.vendors[0].posts, 4);
  EXPECT_EQ(summary.vendors[1].posts, 3);
  EXPECT_EQ(summary.vendors[1].missing, 1);  // google has no light-skin wave
  EXPECT_NE(summary.vendors[1].package.find("16.0.0.tgz"), std::string::npos);

  const std::map<int64_t, Post> posts = read_dump(summary.metadata);
  std::vector<int64_t> ids;
  for (const auto& [id, post] : posts) ids.push_back(id);
  // vendor * 10000 + position in sort order (heart_eyes 1, grinning 2, wave 3, its variation 4).
  EXPECT_EQ(ids, (std::vector<int64_t>{10001, 10002, 10003, 10004, 20001, 20002, 20003}));
  const Post& heart = posts.at(10001);
  EXPECT_EQ(heart.rating, 's');
  EXPECT_EQ(names_of(heart, TagCategory::character), (std::set<std::string>{"heart_eyes"}));
  EXPECT_EQ(names_of(heart, TagCategory::copyright), (std::set<std::string>{"twitter"}));
  EXPECT_EQ(names_of(heart, TagCategory::general),
            (std::set<std::string>{"smileys_and_emotion", "face-affection", "heart", "eyes", "smiling", "face", "shaped"}));
  EXPECT_EQ(names_of(posts.at(10004), TagCategory::character), (std::set<std::string>{"wave"}));
  EXPECT_TRUE(names_of(posts.at(10004), TagCategory::general).count("light_skin_tone"));
  EXPECT_TRUE(names_of(posts.at(10004), TagCategory::general).count("waving"));
  EXPECT_EQ(names_of(posts.at(20001), TagCategory::character), names_of(heart, TagCategory::character));

  // The matching facts of each drawing, and numbers as strings like Danbooru2017.
  const std::string first_line = read_file(summary.metadata).substr(0, read_file(summary.metadata).find('\n'));
  const json line = json::parse(first_line);
  EXPECT_EQ(line["id"], "10001");
  EXPECT_EQ(line["emoji"]["unified"], "1F60D");
  EXPECT_EQ(line["emoji"]["vendor"], "twitter");

  // The pictures, where the original layout puts them, exactly the packages' bytes.
  const Image twitter_heart = load_image((dir / "dump" / "original" / "0001" / "10001.png").string());
  EXPECT_EQ(twitter_heart.rgb, test::drawing(64, 64, 4).rgb);
  EXPECT_TRUE(fs::exists(dir / "dump" / "original" / "0003" / "20003.png"));
  EXPECT_TRUE(fs::exists(dir / "dump" / "by_vendor" / "google" / "20003.png"));
  EXPECT_EQ(read_file((dir / "dump" / "by_vendor" / "twitter" / "10004.png").string()),
            read_file((dir / "dump" / "original" / "0004" / "10004.png").string()));

  // The dump trains like any other.
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({summary.metadata}, VocabularyOptions{}, report);
  EXPECT_EQ(vocabulary.count(TagCategory::copyright), 2);
  EXPECT_EQ(vocabulary.count(TagCategory::character), 3);
  DanbooruSource source;
  source.metadata = {summary.metadata};
  source.images = options.output;
  const auto contents = std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
  DatasetOptions dataset_options;
  dataset_options.preprocess.size = 32;
  const Dataset dataset(contents, std::nullopt, dataset_options);
  EXPECT_EQ(dataset.size(), 7);
  for (int64_t i = 0; i < dataset.size(); ++i) EXPECT_NO_THROW(dataset.get(i));
}

TEST_F(DataEmoji, TagStringFormReadsAsA2022Dump) {
  const fs::path& dir = dir_;
  EmojiOptions options = options_for(dir, {"twitter"});
  options.tag_strings = true;
  options.skin_tones = false;
  const EmojiSummary summary = convert_emoji(options);
  EXPECT_EQ(summary.posts, 3);
  const std::map<int64_t, Post> posts = read_dump(summary.metadata);
  EXPECT_EQ(posts.at(10002).rating, 'g');
  EXPECT_EQ(names_of(posts.at(10002), TagCategory::character), (std::set<std::string>{"grinning"}));
  DataReport report;
  EXPECT_EQ(build_vocabulary({summary.metadata}, VocabularyOptions{}, report).rating_vintage(), RatingVintage::y2022);
}

TEST_F(DataEmoji, MissingPackagesSayWhatToRun) {
  const fs::path& dir = dir_;
  EmojiOptions options = options_for(dir, {"twitter", "apple"});
  try {
    convert_emoji(options);
    ADD_FAILURE() << "converted without the apple package";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("scripts/fetch_emoji.sh"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("emoji-datasource-apple"), std::string::npos) << e.message();
  }
  EXPECT_FALSE(fs::exists(dir / "dump" / "metadata.jsonl"));
  options.vendors = {"snapchat"};
  EXPECT_THROW(convert_emoji(options), Error);
}

TEST_F(DataTarball, ReadsWantedFilesAndRefusesOthers) {
  const fs::path& dir = dir_;
  const std::string archive = tar({{"package/a.txt", "alpha"}, {"package/b.bin", std::string(1000, '\7')}});
  const auto all_but_a = [](const std::string& name) { return name != "package/a.txt"; };
  for (const std::string file : {"a.tgz", "a.tar"}) {  // compressed or not
    test::write_bytes(dir / file, file == "a.tgz" ? gzip(archive) : archive);
    const auto files = read_tarball((dir / file).string(), all_but_a);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files.at("package/b.bin"), std::string(1000, '\7'));
  }
  const auto refused = [&](const std::string& bytes, const std::string& words) {
    test::write_bytes(dir / "bad.tgz", bytes);
    try {
      read_tarball((dir / "bad.tgz").string(), [](const std::string&) { return true; });
      ADD_FAILURE() << "read a bad archive";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(words), std::string::npos) << e.message();
    }
  };
  refused(std::string(600, 'x'), "not a tar archive");
  refused(archive.substr(0, 700), "cut off");
  refused(gzip(archive).substr(0, 60), "");
  std::string corrupt = gzip(archive);
  for (size_t i = 20; i < corrupt.size() - 8; i += 3) corrupt[i] = char(corrupt[i] ^ 0x55);
  refused(corrupt, "");
  EXPECT_THROW(read_tarball((dir / "missing.tgz").string(), all_but_a), Error);
}

// A header that declares 64 GiB in an archive of 2 KiB: the entry is cut off, and nothing of the
// declared size is allocated before its bytes arrive (found by fuzz/tarball_fuzz.cpp).
TEST_F(DataTarball, ADeclaredSizeIsNotAllocatedBeforeItsBytes) {
  std::string archive = tar({{"package/a.txt", "alpha"}});
  const std::string size = "777777777777";  // octal, all 12 bytes of the field: 2^36 - 1 bytes
  std::copy(size.begin(), size.end(), archive.begin() + 124);
  std::fill_n(archive.begin() + 148, 8, ' ');
  uint64_t sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(archive[i]);
  const std::string checksum = fmt::format("{:06o}", sum);
  std::copy(checksum.begin(), checksum.end(), archive.begin() + 148);
  archive[154] = '\0';
  test::write_bytes(dir_ / "big.tar", archive);
  const test::AddressSpaceLimit limit(size_t(1) << 30);
  for (bool keep : {true, false}) {
    try {
      read_tarball((dir_ / "big.tar").string(), [&](const std::string&) { return keep; });
      ADD_FAILURE() << "read an archive that is cut off";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("cut off in 'package/a.txt'"), std::string::npos) << e.message();
    }
  }
}

}  // namespace
}  // namespace i2v
