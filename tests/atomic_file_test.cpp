// Atomic writes: the target holds the old or the new contents, never a mix, and no temporary
// file is left behind.
#include <filesystem>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/atomic_file.h"
#include "data/image.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

fs::path fresh_directory() {
  const fs::path dir = fs::temp_directory_path() / fmt::format("i2v_atomic_{}", test::run_seed());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(AtomicFile, ReplacesContentsAndLeavesNoTemporary) {
  const fs::path dir = fresh_directory();
  const std::string path = (dir / "a.bin").string();
  write_file_atomically(path, std::string("first"));
  write_file_atomically(path, std::string("second, longer"));
  EXPECT_EQ(read_file(path), "second, longer");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

TEST(AtomicFile, AFailingWriterLeavesTheOldFile) {
  const fs::path dir = fresh_directory();
  const std::string path = (dir / "a.bin").string();
  write_file_atomically(path, std::string("old"));
  EXPECT_THROW(write_file_atomically(path,
                                     [&](File& file) {
                                       file.write_all("partial", 7);
                                       I2V_THROW("simulated failure");
                                     }),
               Error);
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_THROW(read_file((dir / "missing").string()), Error);
  fs::remove_all(dir);
}

TEST(Image, PngRoundTripAndResize) {
  const fs::path dir = fresh_directory();
  auto rng = test::test_rng();
  Image image;
  image.width = 7;
  image.height = 5;
  image.rgb.resize(7 * 5 * 3);
  for (uint8_t& v : image.rgb) v = uint8_t(rng());
  const std::string path = (dir / "x.png").string();
  save_png(path, image);
  const Image loaded = load_image(path);
  EXPECT_EQ(loaded.width, 7);
  EXPECT_EQ(loaded.height, 5);
  EXPECT_EQ(loaded.rgb, image.rgb);
  const Image same = resize_image(image, 7, 5);
  EXPECT_EQ(same.rgb, image.rgb);
  const Image half = resize_image(image, 3, 2);
  EXPECT_EQ(half.rgb.size(), 3u * 2 * 3);
  EXPECT_THROW(load_image((dir / "missing.png").string()), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace i2v
