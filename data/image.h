// 8-bit RGB images: decoding files (JPEG, PNG, GIF, BMP, WebP), resampling, writing PNG and JPEG.
//
// Decoding: JPEG through libjpeg-turbo's TurboJPEG API, which can decode in the DCT domain at
// 1/2, 1/4 or 1/8 of the size — far cheaper than decoding everything and then shrinking (a
// 500×500 JPEG for a 224×224 input decodes at 250×250); PNG, GIF (first frame) and BMP through
// stb_image; WebP (lossy, lossless, with alpha; an animated one gives its first frame) through
// libwebp. Grayscale becomes RGB and alpha is composited on white. The header is read first and
// an image claiming more than `max_pixels` is refused before any pixel is decoded
// (decompression bombs). Every failure throws DataError (data/data_error.h) naming the file and
// the reason: missing or empty file, unsupported format, too many pixels, truncated or corrupt.
//
// Resampling: an area average (box filter) along an axis that shrinks — every source pixel
// counts, by how much of it an output pixel covers — and bilinear along an axis that grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace i2v {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes, row by row

  uint8_t* pixel(int x, int y) { return &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3]; }
  const uint8_t* pixel(int x, int y) const { return &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3]; }
};

// An 8-bit colour value of a pixel with this alpha, composited on white: how pictures with
// transparency become RGB everywhere in i2v.
inline uint8_t composite_on_white(unsigned value, unsigned alpha) {
  return uint8_t((value * alpha + 255 * (255 - alpha) + 127) / 255);
}

enum class ImageFormat { jpeg, png, gif, bmp, webp };
const char* image_format_name(ImageFormat format);
// Whether a file extension names one of those formats: "jpg", ".JPEG", "png", "gif", "bmp", "webp" (with
// or without the dot, in any case). The decoder goes by the bytes; this picks the files to try.
bool is_image_extension(const std::string& extension);

struct ImageHeader {
  ImageFormat format;
  int width;
  int height;
};

// Larger images are refused from their header (50 megapixels: far above any illustration, far
// below what would exhaust memory in a few decoding threads).
constexpr int64_t kDefaultMaxPixels = 50'000'000;

struct DecodeOptions {
  int64_t max_pixels = kDefaultMaxPixels;
  // JPEG and still WebP: decode at the smallest scale of 1/8, 1/4, 1/2, 1 whose width is at
  // least min_width and whose height is at least min_height (0, 0: full size). Other formats
  // always decode at full size.
  int min_width = 0;
  int min_height = 0;
};

// The format and size from the first bytes of an encoded image, checked against `max_pixels`.
// `name` (the file) is for messages.
ImageHeader read_image_header(const uint8_t* data, size_t size, const std::string& name,
                              int64_t max_pixels = kDefaultMaxPixels);
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options = {});

// A file's bytes for decoding: DataError missing_file when it cannot be opened, empty_file when
// it has no bytes.
std::string read_image_file(const std::string& path);

// read_image_file + decode_image.
Image load_image(const std::string& path);
Image load_image(const std::string& path, const DecodeOptions& options);

// A rectangle of an image in pixel coordinates (pixel i covers [i, i+1)); may be fractional.
struct Box {
  double x = 0, y = 0, width = 0, height = 0;
};

// Resamples `box` of `image` to out_width × out_height pixels, as floats 0..255 (not rounded),
// row by row, 3 per pixel (RGB), into `out`. Area average along a shrinking axis, bilinear along
// a growing one; the box may reach past the image by rounding (edge pixels repeat).
void resample(const Image& image, const Box& box, int out_width, int out_height, float* out);

// The whole image resampled to width × height (rounded to 8 bits).
Image resize_image(const Image& image, int width, int height);

// Encodes as JPEG (4:2:0 chroma subsampling, like most JPEGs in the wild).
std::string encode_jpeg(const Image& image, int quality = 90);
std::string encode_png(const Image& image);
// Writes a PNG / a JPEG (atomically).
void save_png(const std::string& path, const Image& image);
void save_jpeg(const std::string& path, const Image& image, int quality = 90);

}  // namespace i2v
