// Decoding every supported format, refusing bad files with the right reason, DCT-domain scaled
// JPEG decoding, and the area-average resampler.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "tests/data_fixture.h"
#include "data/image.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// Each test gets a fresh directory of its own, dir_.
using DataImage = test::TempDirectoryTest;

using test::drawing;

Image decode(const std::string& bytes, const DecodeOptions& options = {}) {
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test", options);
}

DataProblem problem_of(const std::string& bytes, const DecodeOptions& options = {}) {
  try {
    decode(bytes, options);
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("test"), std::string::npos) << "the message names the file: " << e.message();
    return e.problem();
  }
  ADD_FAILURE() << "decoded without error";
  return DataProblem::corrupt_image;
}

double mean_abs_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  double sum = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) sum += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return sum / double(a.rgb.size());
}

uint64_t seed() { return test::test_rng()(); }

// Random bytes: the least forgiving picture for a resampler.
Image noise(int width, int height) {
  auto rng = test::test_rng();
  Image picture;
  picture.width = width;
  picture.height = height;
  picture.rgb.resize(size_t(width) * size_t(height) * 3);
  for (uint8_t& v : picture.rgb) v = uint8_t(rng());
  return picture;
}

TEST_F(DataImage, DecodesEveryFormat) {
  const Image picture = drawing(37, 29, seed());
  // Lossless formats give the pixels back exactly.
  EXPECT_EQ(decode(test::png_bytes(picture)).rgb, picture.rgb);
  EXPECT_EQ(decode(test::bmp_bytes(picture)).rgb, picture.rgb);
  // JPEG is lossy (and halves the chroma resolution): close on a drawing at quality 95, far
  // closer than with swapped channels.
  const Image jpeg = decode(encode_jpeg(picture, 95));
  EXPECT_LT(mean_abs_difference(jpeg, picture), 12.0);
  // GIF: the first frame, in its palette colours.
  const Image gif = decode(test::gif_bytes({picture, drawing(37, 29, seed() + 1)}));
  ASSERT_EQ(gif.width, 37);
  ASSERT_EQ(gif.height, 29);
  for (size_t i = 0; i < gif.rgb.size() / 3; ++i) {
    uint8_t expected[3];
    test::gif_colour(&picture.rgb[i * 3], expected);
    for (size_t c = 0; c < 3; ++c) ASSERT_EQ(gif.rgb[i * 3 + c], expected[c]) << "pixel " << i;
  }
}

// Many BMPs are stored top-down, with a negative height (found by the fuzz seeds): the same
// picture as its bottom-up twin, of a positive height.
TEST_F(DataImage, TopDownBmpIsTheSamePicture) {
  const Image picture = drawing(37, 29, seed());
  const std::string bottom_up = test::bmp_bytes(picture);
  uint32_t pixels = 0;
  std::memcpy(&pixels, &bottom_up[10], 4);
  const size_t row = (37 * 3 + 3) / 4 * 4;
  ASSERT_EQ(bottom_up.size(), pixels + 29 * row);
  std::string top_down = bottom_up.substr(0, pixels);
  for (int y = 28; y >= 0; --y) top_down += bottom_up.substr(pixels + size_t(y) * row, row);
  const int32_t negative = -29;
  std::memcpy(&top_down[22], &negative, 4);
  const ImageHeader header = read_image_header(reinterpret_cast<const uint8_t*>(top_down.data()), top_down.size(), "test");
  EXPECT_EQ(header.width, 37);
  EXPECT_EQ(header.height, 29);
  EXPECT_EQ(decode(top_down).rgb, picture.rgb);
}

TEST_F(DataImage, GrayscaleBecomesRgbAndAlphaIsCompositedOnWhite) {
  const Image picture = drawing(24, 16, seed());
  std::vector<uint8_t> gray;
  const Image decoded = decode(test::gray_jpeg_bytes(picture, &gray));
  double error = 0;
  for (size_t i = 0; i < gray.size(); ++i) {
    EXPECT_EQ(decoded.rgb[i * 3], decoded.rgb[i * 3 + 1]);
    EXPECT_EQ(decoded.rgb[i * 3], decoded.rgb[i * 3 + 2]);
    error += std::abs(int(decoded.rgb[i * 3]) - int(gray[i]));
  }
  EXPECT_LT(error / double(gray.size()), 4.0);

  const auto alpha = [](int x, int y) { return (x * 37 + y * 11) % 256; };
  const Image composited = decode(test::rgba_png_bytes(picture, alpha));
  for (int y = 0; y < picture.height; ++y)
    for (int x = 0; x < picture.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const int a = alpha(x, y);
        const int expected = (picture.pixel(x, y)[c] * a + 255 * (255 - a) + 127) / 255;
        ASSERT_EQ(composited.pixel(x, y)[c], expected) << x << "," << y;
      }
}

TEST_F(DataImage, CmykJpegIsConverted) {
  // TurboJPEG writes CMYK JPEGs (as Adobe does: inverted values); the decoder converts to RGB.
  const Image picture = drawing(32, 32, seed());
  std::vector<uint8_t> cmyk(32 * 32 * 4);
  for (size_t i = 0; i < 32 * 32; ++i) {
    for (size_t c = 0; c < 3; ++c) cmyk[i * 4 + c] = picture.rgb[i * 3 + c];
    cmyk[i * 4 + 3] = 255;  // inverted K: no black
  }
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(handle, cmyk.data(), 32, 32 * 4, 32, TJPF_CMYK, &jpeg, &size, TJSAMP_444, 98, 0), 0);
  const Image decoded = decode(std::string(reinterpret_cast<char*>(jpeg), size));
  tjFree(jpeg);
  tjDestroy(handle);
  EXPECT_LT(mean_abs_difference(decoded, picture), 4.0);
}

TEST_F(DataImage, BadFilesAreRefusedWithTheirReason) {
  const std::string jpeg = encode_jpeg(drawing(64, 48, seed()), 90);
  const std::string png = test::png_bytes(drawing(64, 48, seed()));
  EXPECT_EQ(problem_of(""), DataProblem::empty_file);
  EXPECT_EQ(problem_of(jpeg.substr(0, jpeg.size() / 2)), DataProblem::truncated_image);
  EXPECT_EQ(problem_of(jpeg.substr(0, 40)), DataProblem::truncated_image);
  EXPECT_EQ(problem_of(png.substr(0, png.size() - 30)), DataProblem::truncated_image);
  const std::string bmp = test::bmp_bytes(drawing(64, 48, seed()));
  EXPECT_EQ(problem_of(bmp.substr(0, bmp.size() - 100)), DataProblem::truncated_image);
  std::string corrupt_png = png;
  for (size_t i = 60; i < png.size() - 20; i += 5) corrupt_png[i] = char(corrupt_png[i] ^ 0x33);
  EXPECT_EQ(problem_of(corrupt_png), DataProblem::corrupt_image);
  std::string corrupt_jpeg = jpeg;
  for (size_t i = jpeg.size() / 3; i < jpeg.size() - 2; i += 3) corrupt_jpeg[i] = char(0xFF);
  EXPECT_EQ(problem_of(corrupt_jpeg), DataProblem::corrupt_image);
  EXPECT_EQ(problem_of(std::string("\0\0\0\x1c" "ftypavif", 12)), DataProblem::unsupported_format);
  EXPECT_EQ(problem_of("PK\x03\x04 a zip archive"), DataProblem::unsupported_format);
  EXPECT_EQ(problem_of("just some text"), DataProblem::unsupported_format);
  EXPECT_EQ(problem_of(test::png_claiming(10000, 10000)), DataProblem::too_many_pixels);
  EXPECT_EQ(problem_of(test::png_claiming(60000, 60000)), DataProblem::too_many_pixels);  // stb_image refuses it too
  // A PNG chunk longer than the file: refused from its length, before stb_image allocates it
  // (found by fuzz/image_png_fuzz.cpp).
  std::string long_chunk = test::png_bytes(drawing(4, 4, seed()));
  const size_t idat = long_chunk.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  long_chunk.replace(idat - 4, 4, std::string("\x7f\xff\xff\xf0", 4));
  {
    const test::AddressSpaceLimit limit(size_t(1) << 30);
    EXPECT_EQ(problem_of(long_chunk), DataProblem::truncated_image);
  }
  try {
    decode(long_chunk);
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("chunk 'IDAT' of 2147483632 bytes runs past the end"), std::string::npos) << e.message();
  }
  // Sizes whose product overflows 64 bits (found by fuzz/image_png_fuzz.cpp).
  EXPECT_EQ(problem_of(test::png_claiming(int(4255627836u), int(4236181504u))), DataProblem::too_many_pixels);
  std::string gif = test::gif_bytes({drawing(4, 4, seed())});
  gif[6] = gif[7] = gif[8] = gif[9] = char(0xFF);  // 65535 x 65535
  EXPECT_EQ(problem_of(gif), DataProblem::too_many_pixels);
  std::string big_bmp = test::bmp_bytes(drawing(4, 4, seed()));
  big_bmp[20] = big_bmp[24] = char(0x7F);  // 8,323,076 x 8,323,076
  EXPECT_EQ(problem_of(big_bmp), DataProblem::too_many_pixels);
  // The limit is an option, checked from the header.
  DecodeOptions small;
  small.max_pixels = 64 * 48 - 1;
  EXPECT_EQ(problem_of(jpeg, small), DataProblem::too_many_pixels);
  EXPECT_EQ(problem_of(png, small), DataProblem::too_many_pixels);
  small.max_pixels = 64 * 48;
  EXPECT_EQ(decode(jpeg, small).width, 64);
}

TEST_F(DataImage, JpegHeaderClaimingHugeSizeIsRefusedBeforeDecoding) {
  std::string jpeg = encode_jpeg(drawing(16, 16, seed()), 90);
  // The SOF0 marker (FF C0): length(2) precision(1) height(2) width(2).
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = char(0xEA);  // 60000 x 60000
  jpeg[sof + 6] = char(0x60);
  jpeg[sof + 7] = char(0xEA);
  jpeg[sof + 8] = char(0x60);
  EXPECT_EQ(problem_of(jpeg), DataProblem::too_many_pixels);
  const ImageHeader header = [&] {
    try {
      return read_image_header(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), "test", int64_t(1) << 40);
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
      return ImageHeader{ImageFormat::jpeg, 0, 0};
    }
  }();
  EXPECT_EQ(header.width, 60000);
  EXPECT_EQ(header.format, ImageFormat::jpeg);
}

TEST_F(DataImage, MissingAndEmptyFiles) {
  const fs::path& dir = dir_;
  try {
    load_image((dir / "nothing.jpg").string());
    ADD_FAILURE() << "loaded a missing file";
  } catch (const DataError& e) {
    EXPECT_EQ(e.problem(), DataProblem::missing_file);
    EXPECT_NE(e.message().find("nothing.jpg"), std::string::npos);
  }
  test::write_bytes(dir / "empty.png", "");
  try {
    load_image((dir / "empty.png").string());
    ADD_FAILURE() << "loaded an empty file";
  } catch (const DataError& e) {
    EXPECT_EQ(e.problem(), DataProblem::empty_file);
  }
  try {
    load_image(dir.string());
    ADD_FAILURE() << "loaded a directory";
  } catch (const DataError& e) {
    EXPECT_EQ(e.problem(), DataProblem::missing_file);
  }
  const Image picture = drawing(64, 48, seed());
  save_jpeg((dir / "a.jpg").string(), picture, 95);
  EXPECT_LT(mean_abs_difference(load_image((dir / "a.jpg").string()), picture), 12.0);
}

TEST_F(DataImage, ScaledJpegDecodingMatchesFullDecodingThenShrinking) {
  const Image picture = drawing(500, 480, seed());
  const std::string jpeg = encode_jpeg(picture, 90);
  const Image full = decode(jpeg);
  ASSERT_EQ(full.width, 500);
  // The smallest DCT scale that keeps at least the asked size: 1/2 for 224, 1/8 for 60.
  DecodeOptions options;
  options.min_width = options.min_height = 224;
  const Image half = decode(jpeg, options);
  EXPECT_EQ(half.width, 250);
  EXPECT_EQ(half.height, 240);
  options.min_width = options.min_height = 60;
  const Image eighth = decode(jpeg, options);
  EXPECT_EQ(eighth.width, 63);
  EXPECT_EQ(eighth.height, 60);
  options.min_width = 64;
  EXPECT_EQ(decode(jpeg, options).width, 125);
  // What the decoder computes from the DCT coefficients is close to decoding everything and
  // averaging 2x2 blocks.
  EXPECT_LT(mean_abs_difference(half, resize_image(full, 250, 240)), 2.5);
  EXPECT_LT(mean_abs_difference(resize_image(half, 224, 224), resize_image(full, 224, 224)), 2.5);
}

TEST_F(DataImage, ShrinkingAveragesAreas) {
  const Image picture = noise(12, 9);
  // By an integer factor: each output pixel is the exact mean of its 3x3 block.
  std::vector<float> out(4 * 3 * 3);
  resample(picture, Box{0, 0, 12, 9}, 4, 3, out.data());
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int dy = 0; dy < 3; ++dy)
          for (int dx = 0; dx < 3; ++dx) sum += picture.pixel(x * 3 + dx, y * 3 + dy)[c];
        EXPECT_NEAR(out[size_t((y * 4 + x) * 3 + c)], sum / 9, 1e-3);
      }
  // By a fractional factor: every source pixel counts by its covered area, so the mean of the
  // whole picture is kept.
  std::vector<float> fractional(5 * 4 * 3);
  resample(picture, Box{0, 0, 12, 9}, 5, 4, fractional.data());
  for (int c = 0; c < 3; ++c) {
    double in = 0, shrunk = 0;
    for (size_t i = 0; i < 12 * 9; ++i) in += picture.rgb[i * 3 + size_t(c)];
    for (size_t i = 0; i < 5 * 4; ++i) shrunk += fractional[i * 3 + size_t(c)];
    EXPECT_NEAR(in / (12 * 9), shrunk / (5 * 4), 1e-3);
  }
  // A box: the pixels of that region only.
  std::vector<float> one(3);
  resample(picture, Box{3, 2, 2, 1}, 1, 1, one.data());
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(one[size_t(c)], (picture.pixel(3, 2)[c] + picture.pixel(4, 2)[c]) / 2.0, 1e-3);
}

TEST_F(DataImage, GrowingIsBilinearAndSameSizeIsExact) {
  const Image picture = noise(7, 5);
  EXPECT_EQ(resize_image(picture, 7, 5).rgb, picture.rgb);
  // Doubling: output pixel o sits at source coordinate (o + 0.5) / 2 - 0.5, between the two
  // nearest pixel centres (3 -> 1.25, 4 -> 1.75).
  std::vector<float> out(14 * 10 * 3);
  resample(picture, Box{0, 0, 7, 5}, 14, 10, out.data());
  const auto at = [&](int x, int y, int c) { return out[size_t((y * 14 + x) * 3 + c)]; };
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(at(3, 4, c),
                0.75 * (0.75 * picture.pixel(1, 2)[c] + 0.25 * picture.pixel(2, 2)[c]) +
                    0.25 * (0.75 * picture.pixel(1, 1)[c] + 0.25 * picture.pixel(2, 1)[c]),
                1e-3);
    EXPECT_NEAR(at(0, 0, c), picture.pixel(0, 0)[c], 1e-3);      // edges repeat
    EXPECT_NEAR(at(13, 9, c), picture.pixel(6, 4)[c], 1e-3);
  }
  // A constant picture stays constant through any resampling.
  Image flat;
  flat.width = 13;
  flat.height = 11;
  flat.rgb.assign(13 * 11 * 3, 77);
  for (auto [w, h] : {std::pair{5, 3}, std::pair{30, 7}, std::pair{1, 1}, std::pair{13, 40}})
    for (uint8_t v : resize_image(flat, w, h).rgb) ASSERT_EQ(v, 77);
}

}  // namespace
}  // namespace i2v
