// WebP decoding (data/image.h): lossless and lossy pictures, alpha composited on white, an
// animation's first frame, and bad files refused with the same reasons as the other formats.
// The fixtures are encoded here with libwebp's own encoder (and libwebpmux for animations).
#include <webp/encode.h>
#include <webp/mux.h>

#include <gtest/gtest.h>

#include "data/data_error.h"
#include "data/image.h"
#include "tests/data_fixture.h"

namespace i2v {
namespace {

std::string to_string(uint8_t* bytes, size_t size) {
  std::string out(reinterpret_cast<const char*>(bytes), size);
  WebPFree(bytes);
  return out;
}

std::vector<uint8_t> rgba_of(const Image& image, uint8_t alpha) {
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < image.rgb.size(); i += 3) rgba.insert(rgba.end(), {image.rgb[i], image.rgb[i + 1], image.rgb[i + 2], alpha});
  return rgba;
}

std::string lossless_webp(const Image& image, uint8_t alpha = 255) {
  const std::vector<uint8_t> rgba = rgba_of(image, alpha);
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeLosslessRGBA(rgba.data(), image.width, image.height, image.width * 4, &out);
  return to_string(out, size);
}

std::string lossy_webp(const Image& image) {
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeRGB(image.rgb.data(), image.width, image.height, image.width * 3, 90, &out);
  return to_string(out, size);
}

// Two frames of different pictures, lossless.
std::string animated_webp(const Image& first, const Image& second) {
  WebPAnimEncoderOptions options;
  WebPAnimEncoderOptionsInit(&options);
  WebPAnimEncoder* encoder = WebPAnimEncoderNew(first.width, first.height, &options);
  WebPConfig config;
  WebPConfigInit(&config);
  config.lossless = 1;
  int timestamp = 0;
  for (const Image* frame : {&first, &second}) {
    const std::vector<uint8_t> rgba = rgba_of(*frame, 255);
    WebPPicture picture;
    WebPPictureInit(&picture);
    picture.use_argb = 1;
    picture.width = frame->width;
    picture.height = frame->height;
    WebPPictureImportRGBA(&picture, rgba.data(), frame->width * 4);
    EXPECT_TRUE(WebPAnimEncoderAdd(encoder, &picture, timestamp, &config));
    WebPPictureFree(&picture);
    timestamp += 100;
  }
  WebPAnimEncoderAdd(encoder, nullptr, timestamp, nullptr);
  WebPData data;
  WebPDataInit(&data);
  EXPECT_TRUE(WebPAnimEncoderAssemble(encoder, &data));
  std::string out(reinterpret_cast<const char*>(data.bytes), data.size);
  WebPDataClear(&data);
  WebPAnimEncoderDelete(encoder);
  return out;
}

Image decode(const std::string& bytes, const DecodeOptions& options = {}) {
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.webp", options);
}

DataProblem problem_of(const std::string& bytes, const DecodeOptions& options = {}) {
  try {
    decode(bytes, options);
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("test.webp"), std::string::npos) << e.message();
    return e.problem();
  }
  ADD_FAILURE() << "decoded without error";
  return DataProblem::corrupt_image;
}

TEST(DataWebp, LosslessGivesThePixelsBackAndLossyIsClose) {
  const Image picture = test::drawing(37, 29, test::test_rng()());
  const std::string lossless = lossless_webp(picture);
  const ImageHeader header = read_image_header(reinterpret_cast<const uint8_t*>(lossless.data()), lossless.size(), "x");
  EXPECT_EQ(header.format, ImageFormat::webp);
  EXPECT_EQ(header.width, 37);
  EXPECT_EQ(header.height, 29);
  EXPECT_EQ(decode(lossless).rgb, picture.rgb);
  const Image lossy = decode(lossy_webp(picture));
  ASSERT_EQ(lossy.rgb.size(), picture.rgb.size());
  double difference = 0;
  for (size_t i = 0; i < picture.rgb.size(); ++i) difference += std::abs(int(lossy.rgb[i]) - int(picture.rgb[i]));
  EXPECT_LT(difference / double(picture.rgb.size()), 10.0);  // q90 with 4:2:0 chroma on sharp edges; swapped channels: ~60
  EXPECT_TRUE(is_image_extension(".WebP"));
}

TEST(DataWebp, ScaledDecodingMatchesFullDecodingThenShrinking) {
  const Image picture = test::drawing(203, 161, 9);
  const std::string webp = lossy_webp(picture);
  const Image full = decode(webp);
  DecodeOptions options;
  options.min_width = options.min_height = 50;  // 1/2 gives 102x81, 1/4 51x41: too short
  const Image scaled = decode(webp, options);
  EXPECT_EQ(scaled.width, 102);
  EXPECT_EQ(scaled.height, 81);
  const Image shrunk = resize_image(full, scaled.width, scaled.height);
  double difference = 0;
  for (size_t i = 0; i < shrunk.rgb.size(); ++i) difference += std::abs(int(scaled.rgb[i]) - int(shrunk.rgb[i]));
  EXPECT_LT(difference / double(shrunk.rgb.size()), 4.0);
  options.min_width = options.min_height = 20;  // down to 1/8
  EXPECT_EQ(decode(webp, options).width, 26);
}

TEST(DataWebp, AlphaIsCompositedOnWhite) {
  const Image picture = test::drawing(16, 12, 3);
  const Image decoded = decode(lossless_webp(picture, 64));
  for (size_t i = 0; i < picture.rgb.size(); ++i) ASSERT_EQ(decoded.rgb[i], composite_on_white(picture.rgb[i], 64)) << i;
}

TEST(DataWebp, AnAnimationGivesItsFirstFrame) {
  const Image first = test::drawing(20, 18, 1), second = test::drawing(20, 18, 2);
  const std::string animation = animated_webp(first, second);
  EXPECT_EQ(decode(animation).rgb, first.rgb);
  EXPECT_EQ(problem_of(animation.substr(0, animation.size() * 2 / 3)), DataProblem::truncated_image);
}

TEST(DataWebp, BadFilesAreRefusedWithTheirReason) {
  const std::string good = lossless_webp(test::drawing(40, 30, 5));
  EXPECT_EQ(problem_of(good.substr(0, 20)), DataProblem::truncated_image);
  EXPECT_EQ(problem_of(good.substr(0, good.size() - 10)), DataProblem::truncated_image);
  std::string corrupt = good;
  for (size_t i = 30; i < corrupt.size(); ++i) corrupt[i] = char(0xA5 ^ i);
  const DataProblem scrambled = problem_of(corrupt);
  EXPECT_TRUE(scrambled == DataProblem::corrupt_image || scrambled == DataProblem::truncated_image);
  // A header that claims a huge canvas (an animation's VP8X chunk): refused before decoding.
  std::string bomb = "RIFF";
  const auto put = [&](uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) bomb += char((value >> (8 * i)) & 0xFF);
  };
  put(4 + 8 + 10, 4);
  bomb += "WEBPVP8X";
  put(10, 4);
  bomb += char(0x02);  // the animation flag
  put(0, 3);
  put(20000 - 1, 3);
  put(20000 - 1, 3);
  EXPECT_EQ(problem_of(bomb), DataProblem::too_many_pixels);
  DecodeOptions small;
  small.max_pixels = 100;
  EXPECT_EQ(problem_of(good, small), DataProblem::too_many_pixels);
}

}  // namespace
}  // namespace i2v
