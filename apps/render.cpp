#include "apps/render.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include <stb_easy_font.h>

#include "base/error.h"

namespace i2v {
namespace {

constexpr int kGap = 4;
constexpr uint8_t kWhite[3] = {255, 255, 255};
constexpr uint8_t kFrame[3] = {230, 80, 20};

void paste(Image& canvas, const Image& tile, int x0, int y0) {
  for (int y = 0; y < tile.height; ++y)
    for (int x = 0; x < tile.width; ++x)
      if (x0 + x >= 0 && x0 + x < canvas.width && y0 + y >= 0 && y0 + y < canvas.height)
        std::copy(tile.pixel(x, y), tile.pixel(x, y) + 3, canvas.pixel(x0 + x, y0 + y));
}

void frame(Image& canvas, int x0, int y0, int size, int width, const uint8_t colour[3]) {
  fill_rect(canvas, x0 - width, y0 - width, size + 2 * width, width, colour);
  fill_rect(canvas, x0 - width, y0 + size, size + 2 * width, width, colour);
  fill_rect(canvas, x0 - width, y0, width, size, colour);
  fill_rect(canvas, x0 + size, y0, width, size, colour);
}

Image placeholder(int size) {
  const uint8_t grey[3] = {200, 200, 200}, red[3] = {200, 30, 30};
  Image tile = blank(size, size, grey);
  for (int t = 0; t < size; ++t) {
    for (int d = -1; d <= 1; ++d) {
      fill_rect(tile, t + d, t, 1, 1, red);
      fill_rect(tile, size - 1 - t + d, t, 1, 1, red);
    }
  }
  return tile;
}

}  // namespace

void label_colour(int64_t label, uint8_t out[3]) {
  const double hue = std::fmod(double(label) * 0.61803398875, 1.0) * 6.0;
  const int sector = int(hue);
  const double f = hue - sector;
  const double rgb[6][3] = {{1, f, 0}, {1 - f, 1, 0}, {0, 1, f}, {0, 1 - f, 1}, {f, 0, 1}, {1, 0, 1 - f}};
  for (int c = 0; c < 3; ++c) out[c] = uint8_t(40 + 180 * rgb[sector % 6][c]);
}

Image blank(int width, int height, const uint8_t colour[3]) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = colour[i % 3];
  return image;
}

void fill_rect(Image& image, int x0, int y0, int w, int h, const uint8_t colour[3]) {
  for (int y = std::max(0, y0); y < std::min(image.height, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min(image.width, x0 + w); ++x) std::copy(colour, colour + 3, image.pixel(x, y));
}

std::string resolve_image_path(const std::string& root, std::string_view path) {
  const std::filesystem::path p(path);
  if (root.empty() || p.is_absolute()) return std::string(path);
  return (std::filesystem::path(root) / p).string();
}

Image thumbnail(const std::string& file, int size, std::vector<std::string>& failures) {
  Image image;
  try {
    image = load_image(file);
  } catch (const Error& e) {
    failures.push_back(e.message());
    return placeholder(size);
  }
  const double scale = double(size) / std::max(image.width, image.height);
  const int w = std::max(1, int(std::lround(image.width * scale))), h = std::max(1, int(std::lround(image.height * scale)));
  Image tile = blank(size, size, kWhite);
  paste(tile, resize_image(image, w, h), (size - w) / 2, (size - h) / 2);
  return tile;
}

Image contact_sheet(const std::vector<std::string>& files, int thumb, int columns, const std::vector<int>& highlighted,
                    std::vector<std::string>& failures) {
  I2V_CHECK(!files.empty() && thumb > 0 && columns > 0, "contact sheet of {} images, {} px, {} columns", files.size(),
            thumb, columns);
  const int n = int(files.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int cell = thumb + 2 * kGap;
  Image sheet = blank(cols * cell, rows * cell, kWhite);
  for (int i = 0; i < n; ++i) {
    const int x = (i % cols) * cell + kGap, y = (i / cols) * cell + kGap;
    if (files[size_t(i)].empty()) continue;  // a gap in the grid
    paste(sheet, thumbnail(files[size_t(i)], thumb, failures), x, y);
    if (std::find(highlighted.begin(), highlighted.end(), i) != highlighted.end()) frame(sheet, x, y, thumb, 3, kFrame);
  }
  return sheet;
}

int thumbnail_map(const std::vector<float>& xy, const std::vector<std::string>& files, const std::vector<int64_t>& labels,
                  int size, int thumb, uint64_t seed, Image& canvas, std::vector<std::string>& failures) {
  const int64_t n = int64_t(xy.size() / 2);
  I2V_CHECK(n > 0 && size > thumb && thumb > 0, "map of {} points on {} px with {} px thumbnails", n, size, thumb);
  I2V_CHECK(files.empty() || int64_t(files.size()) == n, "map: {} images for {} points", files.size(), n);
  I2V_CHECK(labels.empty() || int64_t(labels.size()) == n, "map: {} labels for {} points", labels.size(), n);
  float min_x = xy[0], max_x = xy[0], min_y = xy[1], max_y = xy[1];
  for (int64_t i = 0; i < n; ++i) {
    min_x = std::min(min_x, xy[size_t(2 * i)]);
    max_x = std::max(max_x, xy[size_t(2 * i)]);
    min_y = std::min(min_y, xy[size_t(2 * i + 1)]);
    max_y = std::max(max_y, xy[size_t(2 * i + 1)]);
  }
  const double span = std::max({double(max_x - min_x), double(max_y - min_y), 1e-9});
  const int usable = size - thumb;  // a thumbnail's top-left corner lies in [0, usable]
  auto pixel_of = [&](int64_t i, int axis) {
    const double lo = axis == 0 ? min_x : min_y;
    return int(std::lround((xy[size_t(2 * i + axis)] - lo) / span * usable));
  };
  canvas = blank(size, size, kWhite);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t colour[3] = {60, 60, 60};
    if (!labels.empty()) label_colour(labels[size_t(i)], colour);
    fill_rect(canvas, pixel_of(i, 0) + thumb / 2 - 2, pixel_of(i, 1) + thumb / 2 - 2, 4, 4, colour);
  }
  const int cells = (size + thumb - 1) / thumb;
  std::vector<char> taken(size_t(cells) * size_t(cells), 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  int drawn = 0;
  for (int64_t i : order) {
    if (files.empty()) break;
    const int cx = (pixel_of(i, 0) + thumb / 2) / thumb, cy = (pixel_of(i, 1) + thumb / 2) / thumb;
    char& cell = taken[size_t(std::min(cy, cells - 1)) * size_t(cells) + size_t(std::min(cx, cells - 1))];
    if (cell) continue;
    cell = 1;
    paste(canvas, thumbnail(files[size_t(i)], thumb, failures), std::min(cx * thumb, usable), std::min(cy * thumb, usable));
    ++drawn;
  }
  return drawn;
}

namespace {

// A blue -> cyan -> yellow -> red ramp for t in [0, 1].
void heat_colour(float t, float rgb[3]) {
  const float stops[4][3] = {{0, 0, 160}, {0, 200, 255}, {255, 230, 0}, {230, 0, 0}};
  const float x = std::clamp(t, 0.0f, 1.0f) * 3.0f;
  const int i = std::min(int(x), 2);
  const float f = x - float(i);
  for (int c = 0; c < 3; ++c) rgb[c] = stops[i][c] * (1 - f) + stops[i + 1][c] * f;
}

}  // namespace

Image class_activation_overlay(const Image& picture, const std::vector<float>& map, int64_t h, int64_t w, float opacity) {
  const auto [lo, hi] = std::minmax_element(map.begin(), map.end());
  const float range = *hi - *lo > 0 ? *hi - *lo : 1.0f;
  Image out = picture;
  for (int y = 0; y < picture.height; ++y)
    for (int x = 0; x < picture.width; ++x) {
      // Cell centres of the map sit at ((i + 0.5) / w) of the picture.
      const float fy = std::clamp((y + 0.5f) * float(h) / float(picture.height) - 0.5f, 0.0f, float(h - 1));
      const float fx = std::clamp((x + 0.5f) * float(w) / float(picture.width) - 0.5f, 0.0f, float(w - 1));
      const int64_t y0 = int64_t(fy), x0 = int64_t(fx), y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
      const float wy = fy - float(y0), wx = fx - float(x0);
      const float v = (map[size_t(y0 * w + x0)] * (1 - wx) + map[size_t(y0 * w + x1)] * wx) * (1 - wy) +
                      (map[size_t(y1 * w + x0)] * (1 - wx) + map[size_t(y1 * w + x1)] * wx) * wy;
      float heat[3];
      heat_colour((v - *lo) / range, heat);
      uint8_t* p = out.pixel(x, y);
      for (int c = 0; c < 3; ++c) p[c] = uint8_t(std::lround(p[c] * (1 - opacity) + heat[c] * opacity));
    }
  return out;
}

int draw_text(Image& canvas, int x, int y, const std::string& text, const uint8_t colour[3], int scale) {
  // stb_easy_font gives each stroke as a quad of 4 vertices (x, y, z as floats, then 4 colour
  // bytes); its quads are axis-aligned rectangles.
  struct Vertex {
    float x, y, z;
    unsigned char colour[4];
  };
  std::vector<Vertex> quads(text.size() * 70 * 4 + 4);
  std::string copy = text;
  unsigned char unused[4] = {0, 0, 0, 255};
  const int count = stb_easy_font_print(0, 0, copy.data(), unused, quads.data(), int(quads.size() * sizeof(Vertex)));
  for (int q = 0; q < count; ++q) {
    const Vertex& a = quads[size_t(q) * 4];
    const Vertex& c = quads[size_t(q) * 4 + 2];
    const int x0 = x + int(std::lround(a.x * float(scale))), y0 = y + int(std::lround(a.y * float(scale)));
    const int x1 = x + int(std::lround(c.x * float(scale))), y1 = y + int(std::lround(c.y * float(scale)));
    for (int py = std::max(0, y0); py < std::min(canvas.height, y1); ++py)
      for (int px = std::max(0, x0); px < std::min(canvas.width, x1); ++px) std::copy_n(colour, 3, canvas.pixel(px, py));
  }
  return text_width(text, scale);
}

int text_width(const std::string& text, int scale) {
  std::string copy = text;  // stb_easy_font takes a char*
  return stb_easy_font_width(copy.data()) * scale;
}

}  // namespace i2v
