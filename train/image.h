// 8-bit RGB images: decoding files, resizing, writing PNG.
#pragma once

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

// Decodes a JPEG, PNG, GIF (first frame) or BMP file to RGB: grayscale is expanded, alpha is
// composited on white. Throws i2v::Error naming the file and the reason.
Image load_image(const std::string& path);

// Bilinear resize to width × height.
Image resize_image(const Image& image, int width, int height);

// Writes a PNG (atomically).
void save_png(const std::string& path, const Image& image);

}  // namespace i2v
