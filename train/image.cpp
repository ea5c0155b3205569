#include "train/image.h"

#include <algorithm>
#include <cmath>

#include <stb_image.h>
#include <stb_image_write.h>

#include "kernels/error.h"
#include "train/atomic_file.h"

namespace i2v {

Image load_image(const std::string& path) {
  int width = 0, height = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &width, &height, &channels, 4);
  I2V_CHECK(pixels != nullptr, "cannot decode image {}: {}", path, stbi_failure_reason());
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < size_t(width) * size_t(height); ++i) {
    const unsigned alpha = pixels[i * 4 + 3];
    for (int c = 0; c < 3; ++c)  // composite on white
      image.rgb[i * 3 + size_t(c)] = uint8_t((pixels[i * 4 + size_t(c)] * alpha + 255 * (255 - alpha) + 127) / 255);
  }
  stbi_image_free(pixels);
  return image;
}

Image resize_image(const Image& image, int width, int height) {
  I2V_CHECK(width > 0 && height > 0 && image.width > 0 && image.height > 0, "resize {}x{} to {}x{}",
            image.width, image.height, width, height);
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * 3);
  const float sx = float(image.width) / float(width), sy = float(image.height) / float(height);
  for (int y = 0; y < height; ++y) {
    const float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.0f, float(image.height - 1));
    const int y0 = int(fy), y1 = std::min(y0 + 1, image.height - 1);
    const float wy = fy - float(y0);
    for (int x = 0; x < width; ++x) {
      const float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.0f, float(image.width - 1));
      const int x0 = int(fx), x1 = std::min(x0 + 1, image.width - 1);
      const float wx = fx - float(x0);
      for (int c = 0; c < 3; ++c) {
        const float top = image.pixel(x0, y0)[c] * (1 - wx) + image.pixel(x1, y0)[c] * wx;
        const float bottom = image.pixel(x0, y1)[c] * (1 - wx) + image.pixel(x1, y1)[c] * wx;
        out.pixel(x, y)[c] = uint8_t(std::lround(top * (1 - wy) + bottom * wy));
      }
    }
  }
  return out;
}

void save_png(const std::string& path, const Image& image) {
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  I2V_CHECK(stbi_write_png_to_func(append, &png, image.width, image.height, 3, image.rgb.data(), image.width * 3) != 0,
            "cannot encode {} as PNG", path);
  write_file_atomically(path, png);
}

}  // namespace i2v
