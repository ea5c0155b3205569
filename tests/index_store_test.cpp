// The code store: round trips (from memory and from .npy), reordering by id, and every kind of
// damaged file refused with a message that says what is wrong.
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "index/binary_file.h"
#include "index/code_store.h"
#include "apps/results.h"
#include "base/crc32.h"
#include "base/error.h"
#include "nn/npy.h"
#include "tests/index_test_util.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {

class CodeStoreFile : public test::TempDirectoryTest {};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

using test::expect_error;

void expect_store_refused(const std::string& path, const std::string& fragment) {
  expect_error([&] { CodeStore::open(path); }, fragment);
}

void expect_codes_equal(const CodeStore& store, const std::vector<uint64_t>& codes, int words) {
  ASSERT_EQ(store.words(), words);
  ASSERT_EQ(size_t(store.size()) * size_t(words), codes.size());
  EXPECT_EQ(std::memcmp(store.codes().data, codes.data(), codes.size() * 8), 0);
}

TEST_F(CodeStoreFile, RoundTripWithIdsAndPaths) {
  auto rng = test::test_rng();
  for (int words : {1, 2, 64}) {
    const int64_t n = 37;
    const std::vector<uint64_t> codes = test::random_codes(n, words, rng);
    std::vector<int64_t> ids;
    std::vector<std::string> paths;
    for (int64_t i = 0; i < n; ++i) {
      ids.push_back(1000 + 3 * i);
      paths.push_back("images/" + std::to_string(i) + (i % 2 ? ".png" : ".jpg"));
    }
    const std::string file = path("s.i2vcodes");
    write_code_store(file, code_source({codes.data(), n, words}, ids, paths));
    const CodeStore store = CodeStore::open(file);
    EXPECT_EQ(store.size(), n);
    EXPECT_EQ(store.bits(), 64 * words);
    expect_codes_equal(store, codes, words);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(store.code(0)) % 64, 0u) << "rows must be 64-byte aligned";
    ASSERT_TRUE(store.has_paths());
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(store.id(i), ids[size_t(i)]);
      EXPECT_EQ(store.image_path(i), paths[size_t(i)]);
      EXPECT_EQ(store.find_id(ids[size_t(i)]), i);
      EXPECT_EQ(store.find_path(paths[size_t(i)]), i);
    }
    EXPECT_FALSE(store.find_id(1001).has_value());
    EXPECT_FALSE(store.find_path("nowhere.png").has_value());
    EXPECT_EQ(store.codes_checksum(), crc32_of(codes.data(), codes.size() * 8));
  }
}

TEST_F(CodeStoreFile, WithoutPathsAndDefaultIds) {
  auto rng = test::test_rng();
  const std::vector<uint64_t> codes = test::random_codes(5, 3, rng);
  write_code_store(path("s"), code_source({codes.data(), 5, 3}));
  CodeStore store = CodeStore::open(path("s"));
  EXPECT_FALSE(store.has_paths());
  EXPECT_EQ(store.image_path(2), "");
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(store.id(i), i);
  CodeStore moved = std::move(store);
  expect_codes_equal(moved, codes, 3);
}

TEST_F(CodeStoreFile, ImportFromPackedAndBoolNpyReorderedById) {
  auto rng = test::test_rng();
  const int64_t n = 21, bits = 128;
  std::vector<uint8_t> flags(size_t(n * bits)), packed(size_t(n * bits / 8), 0);
  for (int64_t i = 0; i < n * bits; ++i) {
    flags[size_t(i)] = uint8_t(rng() & 1);
    if (flags[size_t(i)]) packed[size_t(i / 8)] |= uint8_t(0x80 >> (i % 8));  // np.packbits order
  }
  write_npy(path("bool.npy"), NpyType::boolean, {n, bits}, flags.data());
  write_npy(path("packed.npy"), NpyType::u8, {n, bits / 8}, packed.data());
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::vector<std::string> paths;
  for (int64_t i = 0; i < n; ++i) {
    ids[size_t(i)] = int64_t((i * 7919) % 101) - 50;  // distinct, unsorted, some negative
    paths.push_back("p" + std::to_string(i));
  }
  write_npy(path("ids.npy"), NpyType::i64, {n}, ids.data());

  write_code_store(path("a"), code_source_from_npy(path("packed.npy"), "", {}));
  write_code_store(path("b"), code_source_from_npy(path("bool.npy"), "", {}));
  const CodeStore a = CodeStore::open(path("a")), b = CodeStore::open(path("b"));
  EXPECT_EQ(std::memcmp(a.codes().data, packed.data(), packed.size()), 0);
  EXPECT_EQ(std::memcmp(b.codes().data, packed.data(), packed.size()), 0);

  write_code_store(path("c"), code_source_from_npy(path("bool.npy"), path("ids.npy"), paths));
  const CodeStore c = CodeStore::open(path("c"));
  for (int64_t r = 0; r < n; ++r) {
    ASSERT_GT(r == 0 ? 1 : c.id(r) - c.id(r - 1), 0);
    const int64_t source_row = std::find(ids.begin(), ids.end(), c.id(r)) - ids.begin();
    EXPECT_EQ(std::memcmp(c.code(r), &packed[size_t(source_row * bits / 8)], bits / 8), 0) << r;
    EXPECT_EQ(c.image_path(r), paths[size_t(source_row)]);
  }

  ids[3] = ids[4];
  write_npy(path("dup.npy"), NpyType::i64, {n}, ids.data());
  expect_error([&] { code_source_from_npy(path("packed.npy"), path("dup.npy"), {}); }, "more than once");
  write_npy(path("odd.npy"), NpyType::u8, {n, 4}, packed.data());
  expect_error([&] { code_source_from_npy(path("odd.npy"), "", {}); }, "multiple of 64");
  write_npy(path("f.npy"), NpyType::f32, {4, 4}, packed.data());
  expect_error([&] { code_source_from_npy(path("f.npy"), "", {}); }, "uint8");
  expect_error([&] { code_source_from_npy(path("packed.npy"), "", {"only one"}); }, "image paths");
  flags[5] = 2;
  write_npy(path("bad_bool.npy"), NpyType::boolean, {n, bits}, flags.data());
  expect_error([&] { write_code_store(path("d"), code_source_from_npy(path("bad_bool.npy"), "", {})); },
               "holds the byte 2");
  EXPECT_FALSE(std::filesystem::exists(path("d")));
}

TEST_F(CodeStoreFile, ImportMatchesNumpyPackbits) {
  if (const std::string missing = test::python_missing("numpy"); !missing.empty()) FAIL() << missing;
  const std::string script = R"(
import numpy as np
d = ')" + path("") + R"('
rng = np.random.default_rng(5)
bits = rng.random((9, 192)) < 0.5
np.save(d + 'bool.npy', bits)
np.save(d + 'packed.npy', np.packbits(bits, axis=1))
)";
  ASSERT_EQ(test::run_python(script, path("")), 0);
  write_code_store(path("b"), code_source_from_npy(path("bool.npy"), "", {}));
  const CodeStore b = CodeStore::open(path("b"));
  const NpyArray packed = read_npy(path("packed.npy"));
  ASSERT_EQ(packed.bytes.size(), size_t(9 * 24));
  EXPECT_EQ(std::memcmp(b.codes().data, packed.bytes.data(), packed.bytes.size()), 0);
}

TEST_F(CodeStoreFile, RefusesBadSources) {
  auto rng = test::test_rng();
  const std::vector<uint64_t> codes = test::random_codes(4, 1, rng);
  expect_error([&] { write_code_store(path("s"), code_source({codes.data(), 4, 1}, {1, 2, 2, 3})); },
               "strictly increasing");
  expect_error([&] { write_code_store(path("s"), code_source({codes.data(), 4, 1}, {1, 2})); }, "2 ids for 4");
  expect_error([&] { write_code_store(path("s"), code_source({codes.data(), 0, 1})); }, "at least one");
  EXPECT_FALSE(std::filesystem::exists(path("s")));
}

TEST_F(CodeStoreFile, FindsItemsByIdOrStoredPath) {
  auto rng = test::test_rng();
  const std::vector<uint64_t> codes = test::random_codes(3, 1, rng);
  write_code_store(path("s"), code_source({codes.data(), 3, 1}, {10, 20, 30}, {"a.png", "sub/b.png", "c.png"}));
  const CodeStore store = CodeStore::open(path("s"));
  EXPECT_EQ(find_item(store, "20", ""), 1);
  EXPECT_EQ(find_item(store, "sub/b.png", ""), 1);
  EXPECT_EQ(find_item(store, path("sub/../c.png"), path("")), 2);  // resolved under the image root
  expect_error([&] { find_item(store, "21", ""); }, "no item with id 21 (ids 10..30");
  expect_error([&] { find_item(store, "nothing.png", ""); }, "neither an id nor an image path");
  std::ofstream(path("new.png")) << "an image the store does not hold";
  expect_error([&] { find_item(store, path("new.png"), ""); }, "has no code yet; hash it with the store's pictures (`i2v hash");
  // Relative to the store's folder, as it opens from here.
  EXPECT_EQ(std::filesystem::absolute(item_json(store, 2).at("path").get<std::string>()).lexically_normal(),
            path("c.png"));
}

// Relative image paths are relative to the store's folder (version 2); a version 1 store kept
// them as given, and they are read as given.
TEST_F(CodeStoreFile, RelativeImagePathsResolveFromTheStoresFolder) {
  auto rng = test::test_rng();
  const std::vector<uint64_t> codes = test::random_codes(2, 1, rng);
  std::filesystem::create_directories(path("stores"));
  write_code_store(path("stores/s"), code_source({codes.data(), 2, 1}, {}, {"../pics/a.png", "/abs/b.png"}));
  const CodeStore store = CodeStore::open(path("stores/s"));
  EXPECT_EQ(store.image_path(0), "../pics/a.png");
  EXPECT_EQ(std::filesystem::absolute(store.image_file(0)).lexically_normal(), path("pics/a.png"));
  EXPECT_EQ(store.image_file(1), "/abs/b.png");
  EXPECT_EQ(picture_file(store, 0, "/root"), "/root/../pics/a.png");  // --image-root wins

  std::string bytes = read_bytes(path("stores/s"));
  bytes[8] = 1;  // version 1
  const uint32_t crc = crc32_of(bytes.data(), 124);
  std::memcpy(&bytes[124], &crc, 4);
  write_bytes(path("stores/v1"), bytes);
  EXPECT_EQ(CodeStore::open(path("stores/v1")).image_file(0), "../pics/a.png");
}

class CorruptStore : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    good_ = path("good");
    bad_ = path("bad");
    auto rng = test::test_rng();
    codes_ = test::random_codes(n_, 2, rng);
    std::vector<std::string> paths;
    for (int i = 0; i < n_; ++i) paths.push_back("img" + std::to_string(i) + ".png");
    write_code_store(good_, code_source({codes_.data(), n_, 2}, {}, paths));
    bytes_ = read_bytes(good_);
    ASSERT_NO_THROW(CodeStore::open(good_));
  }
  // Writes the good file with `edit` applied to its bytes, then expects it refused.
  template <typename F>
  void expect_edit_refused(F edit, const std::string& fragment) {
    std::string bytes = bytes_;
    edit(bytes);
    write_bytes(bad_, bytes);
    expect_store_refused(bad_, fragment);
  }
  void set_u64(std::string& bytes, size_t offset, uint64_t value) { std::memcpy(&bytes[offset], &value, 8); }
  uint64_t get_u64(const std::string& bytes, size_t offset) {
    uint64_t value;
    std::memcpy(&value, &bytes[offset], 8);
    return value;
  }
  void reseal_header(std::string& bytes) {
    const uint32_t crc = crc32_of(bytes.data(), 124);
    std::memcpy(&bytes[124], &crc, 4);
  }

  const int n_ = 50;
  std::vector<uint64_t> codes_;
  std::string good_, bad_;
  std::string bytes_;
};

TEST_F(CorruptStore, TruncatedAtAnyOffset) {
  const size_t size = bytes_.size();
  for (size_t keep : {size_t(0), size_t(5), size_t(100), size_t(127), size_t(128), size_t(4096), size_t(4096 + 333),
                      size_t(4096 + 50 * 16 + 10), size - 200, size - 1}) {
    SCOPED_TRACE(keep);
    expect_edit_refused([&](std::string& b) { b.resize(keep); }, "truncated");
  }
}

TEST_F(CorruptStore, BadMagicVersionAndChecksums) {
  expect_edit_refused([](std::string& b) { b[1] = 'X'; }, "bad magic");
  expect_edit_refused([](std::string& b) { b = "hello"; }, "bad magic");
  expect_edit_refused([&](std::string& b) { b[8] = 3; reseal_header(b); }, "version 3");
  expect_edit_refused([](std::string& b) { b[16] ^= 1; }, "header checksum");
  expect_edit_refused([](std::string& b) { b[4096 + 77] ^= 0x10; }, "checksum mismatch in the codes");
  expect_edit_refused([&](std::string& b) { b[get_u64(b, 40) + 8] ^= 1; }, "checksum mismatch in the ids");
  expect_edit_refused([](std::string& b) { b[b.size() - 3] ^= 1; }, "checksum mismatch in the image paths");
}

TEST_F(CorruptStore, CountOrBitsInconsistentWithTheSize) {
  // A header that is intact (its checksum recomputed) but whose N or B does not fit the file.
  expect_edit_refused([&](std::string& b) { set_u64(b, 16, 100); reseal_header(b); }, "inconsistent header");
  expect_edit_refused([&](std::string& b) { set_u64(b, 16, 25); reseal_header(b); }, "inconsistent header");
  expect_edit_refused([&](std::string& b) { set_u64(b, 24, 192); reseal_header(b); }, "inconsistent header");
  // 49 codes of 128 bits lay out like 50 (the sections are 64-byte aligned): the checksums catch it.
  expect_edit_refused([&](std::string& b) { set_u64(b, 16, 49); reseal_header(b); }, "checksum mismatch");
  expect_edit_refused([&](std::string& b) { set_u64(b, 24, 100); reseal_header(b); }, "multiple of 64");
  expect_edit_refused([&](std::string& b) { set_u64(b, 16, 0); reseal_header(b); }, "0 codes");
  expect_edit_refused([](std::string& b) { b += "trailing"; }, "data after the end");
}

}  // namespace
}  // namespace i2v
