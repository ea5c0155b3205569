// A tiny Danbooru-style dump made at test time (no download, no committed binaries): a handful of
// generated pictures in every supported format, and metadata lines in both forms that include
// every kind of bad input the data pipeline must skip and count.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <stb_image_write.h>
#include <turbojpeg.h>

#include "base/error.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "data/data_error.h"
#include "data/image.h"
#include "base/random.h"

namespace i2v::test {

namespace fs = std::filesystem;

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// An illustration-like picture: a gradient background and outlined discs (smooth areas and sharp
// edges, like drawings), different for each seed.
inline Image drawing(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  const double r0 = rng.uniform(40, 220), g0 = rng.uniform(40, 220), b0 = rng.uniform(40, 220);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.pixel(x, y);
      p[0] = uint8_t(r0 + 30.0 * x / width);
      p[1] = uint8_t(g0 + 30.0 * y / height);
      p[2] = uint8_t(b0 - 30.0 * (x + y) / (width + height));
    }
  for (int disc = 0; disc < 4; ++disc) {
    const double cx = rng.uniform(0, width), cy = rng.uniform(0, height);
    const double radius = rng.uniform(0.1, 0.3) * std::min(width, height);
    const uint8_t colour[3] = {uint8_t(rng.below(256)), uint8_t(rng.below(256)), uint8_t(rng.below(256))};
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        if (d > radius) continue;
        uint8_t* p = image.pixel(x, y);
        for (int c = 0; c < 3; ++c) p[c] = d > radius - 2 ? 20 : colour[c];
      }
  }
  return image;
}

inline std::string png_bytes(const Image& image) {
  std::string png;
  stbi_write_png_to_func([](void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<char*>(data), size_t(size)); },
                         &png, image.width, image.height, 3, image.rgb.data(), image.width * 3);
  return png;
}

// RGBA PNG: `alpha(x, y)` per pixel.
template <typename Alpha>
std::string rgba_png_bytes(const Image& image, Alpha alpha) {
  std::vector<uint8_t> rgba(size_t(image.width) * size_t(image.height) * 4);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const size_t i = size_t(y) * size_t(image.width) + size_t(x);
      for (size_t c = 0; c < 3; ++c) rgba[i * 4 + c] = image.rgb[i * 3 + c];
      rgba[i * 4 + 3] = uint8_t(alpha(x, y));
    }
  std::string png;
  stbi_write_png_to_func([](void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<char*>(data), size_t(size)); },
                         &png, image.width, image.height, 4, rgba.data(), image.width * 4);
  return png;
}

inline std::string bmp_bytes(const Image& image) {
  std::string bmp;
  stbi_write_bmp_to_func([](void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<char*>(data), size_t(size)); },
                         &bmp, image.width, image.height, 3, image.rgb.data());
  return bmp;
}

// JPEG of a single-channel picture (`image`'s green channel), as TurboJPEG writes grayscale.
inline std::string gray_jpeg_bytes(const Image& image, std::vector<uint8_t>* gray_out = nullptr) {
  std::vector<uint8_t> gray(size_t(image.width) * size_t(image.height));
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = image.rgb[i * 3 + 1];
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int status = tjCompress2(handle, gray.data(), image.width, image.width, image.height, TJPF_GRAY, &jpeg, &size,
                                 TJSAMP_GRAY, 95, 0);
  std::string bytes = status == 0 ? std::string(reinterpret_cast<char*>(jpeg), size) : "";
  tjFree(jpeg);
  tjDestroy(handle);
  if (gray_out) *gray_out = gray;
  return bytes;
}

// A GIF with one frame per picture, colours quantised to 3-3-2 bits. LZW without compression:
// 9-bit literal codes, with a clear code often enough that the code size never grows.
inline std::string gif_bytes(const std::vector<Image>& frames) {
  std::string gif = "GIF89a";
  const auto u16 = [&](int v) {
    gif += char(v & 255);
    gif += char(v >> 8);
  };
  u16(frames[0].width);
  u16(frames[0].height);
  gif += char(0xF7);  // global colour table of 256 entries
  gif += '\0';
  gif += '\0';
  for (int i = 0; i < 256; ++i) {
    gif += char(((i >> 5) & 7) * 255 / 7);
    gif += char(((i >> 2) & 7) * 255 / 7);
    gif += char((i & 3) * 255 / 3);
  }
  for (const Image& frame : frames) {
    gif += "\x2C";
    u16(0);
    u16(0);
    u16(frame.width);
    u16(frame.height);
    gif += '\0';
    gif += char(8);  // LZW minimum code size
    std::string data;
    uint32_t bits = 0;
    int count = 0;
    const auto emit = [&](int code) {
      bits |= uint32_t(code) << count;
      count += 9;
      while (count >= 8) {
        data += char(bits & 255);
        bits >>= 8;
        count -= 8;
      }
    };
    const size_t n = size_t(frame.width) * size_t(frame.height);
    for (size_t i = 0; i < n; ++i) {
      if (i % 250 == 0) emit(256);
      const uint8_t* p = &frame.rgb[i * 3];
      emit((p[0] >> 5) << 5 | (p[1] >> 5) << 2 | (p[2] >> 6));
    }
    emit(257);
    if (count > 0) data += char(bits & 255);
    for (size_t i = 0; i < data.size(); i += 255) {
      const size_t chunk = std::min<size_t>(255, data.size() - i);
      gif += char(chunk);
      gif += data.substr(i, chunk);
    }
    gif += '\0';
  }
  gif += ';';
  return gif;
}

// The colour a 3-3-2 GIF keeps of a pixel.
inline void gif_colour(const uint8_t* p, uint8_t* out) {
  out[0] = uint8_t((p[0] >> 5) * 255 / 7);
  out[1] = uint8_t((p[1] >> 5) * 255 / 7);
  out[2] = uint8_t((p[2] >> 6) * 255 / 3);
}

// A PNG whose header claims width × height (the body is a tiny picture's).
inline std::string png_claiming(int width, int height) {
  std::string png = png_bytes(drawing(2, 2, 1));
  for (int i = 0; i < 4; ++i) {
    png[size_t(16 + i)] = char(uint32_t(width) >> (24 - 8 * i));
    png[size_t(20 + i)] = char(uint32_t(height) >> (24 - 8 * i));
  }
  return png;
}

// The tiny dump: <root>/metadata.jsonl and <root>/original/<bucket>/<id>.<ext>.
struct Fixture {
  fs::path root;
  std::string metadata;
  std::vector<int64_t> good_ids;  // readable pictures
  // Skipped when reading the metadata: malformed lines (3), unknown rating (1), unknown category (1).
  // Skipped when reading the dump: file_ext mp4 (1). Skipped when decoding: one of each image problem.
};

inline Fixture make_fixture(const fs::path& root) {
  Fixture fixture;
  fixture.root = root;
  const auto picture = [&](int64_t id, const std::string& ext, const std::string& bytes) {
    write_bytes(root / "original" / fmt::format("{:04d}", id % 1000) / fmt::format("{}.{}", id, ext), bytes);
  };
  const std::string jpeg = encode_jpeg(drawing(96, 80, 1), 90);
  picture(1, "jpg", jpeg);
  picture(2, "jpg", gray_jpeg_bytes(drawing(40, 56, 2)));
  picture(3, "png", rgba_png_bytes(drawing(48, 48, 3), [](int x, int) { return x * 5; }));
  picture(4, "gif", gif_bytes({drawing(30, 20, 4), drawing(30, 20, 40)}));
  picture(5, "bmp", bmp_bytes(drawing(33, 31, 5)));
  picture(6, "png", png_bytes(drawing(64, 64, 6)));
  // 7: no file at all.
  picture(8, "jpg", "");
  picture(9, "jpg", jpeg.substr(0, jpeg.size() / 2));
  std::string corrupt = png_bytes(drawing(64, 64, 10));
  for (size_t i = 60; i < corrupt.size() - 20; i += 7) corrupt[i] = char(corrupt[i] ^ 0x5A);
  picture(10, "png", corrupt);
  picture(11, "png", std::string("\0\0\0\x1c" "ftypavif", 12) + std::string(24, '\0'));  // AVIF: not read
  picture(12, "png", png_claiming(10000, 10000));
  fixture.good_ids = {1, 2, 3, 4, 5, 6};

  const auto old_form = [](int64_t id, const std::string& ext, const std::string& rating,
                           const std::vector<std::pair<std::string, int>>& tags) {
    std::string line = fmt::format(R"({{"id":"{}","rating":"{}","file_ext":"{}","score":"3","tags":[)", id, rating, ext);
    for (size_t i = 0; i < tags.size(); ++i)
      line += fmt::format(R"({}{{"id":"{}","name":"{}","category":"{}"}})", i ? "," : "", 100 + i, tags[i].first,
                          tags[i].second);
    return line + "]}\n";
  };
  const auto new_form = [](int64_t id, const std::string& ext, const std::string& rating, const std::string& general,
                           const std::string& character, const std::string& copyright) {
    return fmt::format(R"({{"id":{},"rating":"{}","file_ext":"{}","tag_string_general":"{}","tag_string_character":"{}",)"
                       R"("tag_string_copyright":"{}","tag_string_artist":"someone","tag_string_meta":"highres"}})"
                       "\n",
                       id, rating, ext, general, character, copyright);
  };
  std::string lines;
  lines += old_form(1, "jpg", "s", {{"red", 0}, {"circle", 0}, {"alice", 4}, {"wonderland", 3}, {"someone", 1}});
  lines += new_form(2, "jpg", "q", "blue circle", "bob", "wonderland");
  lines += old_form(3, "png", "s", {{"red", 0}, {"long_hair", 0}, {"alice", 4}, {"highres", 5}});
  lines += "\n";  // blank lines are not posts
  lines += new_form(4, "gif", "e", "red blue", "", "elsewhere");
  lines += old_form(5, "bmp", "s", {{"circle", 0}, {"bob", 4}, {"elsewhere", 3}});
  lines += new_form(6, "png", "s", "red long_hair", "alice", "wonderland");
  lines += old_form(7, "jpg", "s", {{"red", 0}});
  lines += new_form(8, "jpg", "s", "blue", "", "");
  lines += old_form(9, "jpg", "q", {{"circle", 0}});
  lines += new_form(10, "png", "s", "red", "", "");
  lines += old_form(11, "png", "s", {{"blue", 0}});
  lines += new_form(12, "png", "s", "circle", "", "");
  lines += old_form(13, "mp4", "s", {{"red", 0}});
  lines += R"({"id":"14","rating":"s","tags":[)" "\n";     // malformed JSON
  lines += "[1, 2, 3]\n";                                   // not an object
  lines += R"({"rating":"s","tag_string":"red"})" "\n";     // no id
  lines += old_form(15, "jpg", "x", {{"red", 0}});          // unknown rating
  lines += old_form(16, "jpg", "s", {{"red", 2}});          // unknown category
  fixture.metadata = (root / "metadata.jsonl").string();
  write_bytes(fixture.metadata, lines);
  return fixture;
}

// A dataset a tiny network learns in a few steps: three classes of 12x12 pictures, mostly red,
// mostly green and mostly blue with noise, 10 each, as `root`/red/0.png ... (an image folder).
inline void write_colour_classes(const fs::path& root) {
  Rng rng(5);
  const char* classes[] = {"red", "green", "blue"};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 10; ++i) {
      Image image;
      image.width = image.height = 12;
      image.rgb.resize(12 * 12 * 3);
      for (size_t p = 0; p < image.rgb.size(); ++p)
        image.rgb[p] = uint8_t(int(p % 3) == c ? 150 + rng.below(100) : rng.below(120));
      fs::create_directories(root / classes[c]);
      save_png((root / classes[c] / (std::to_string(i) + ".png")).string(), image);
    }
}

// The network the training tests train on the colour classes: two 3×3 convolutions on the
// 12×12 pictures, then the test's own `head` (a model config, nn/model_config.h).
inline nlohmann::json colour_network(const std::vector<nlohmann::json>& head) {
  nlohmann::json layers = {
      {{"name", "conv1"}, {"type", "conv2d"}, {"out_channels", 6}, {"kernel", 3}, {"padding", 1}},
      {{"name", "relu1"}, {"type", "relu"}},
      {{"name", "pool1"}, {"type", "max_pool2d"}, {"kernel", 2}},
      {{"name", "conv2"}, {"type", "conv2d"}, {"out_channels", 8}, {"kernel", 3}, {"padding", 1}},
      {{"name", "relu2"}, {"type", "relu"}}};
  for (const nlohmann::json& layer : head) layers.push_back(layer);
  return {{"name", "tiny"}, {"input", {3, 12, 12}}, {"layers", layers}};
}

// The "data" section of a training config over the colour classes in `folders`: 24 pictures to
// train on, 6 to validate, flipped at random.
inline nlohmann::json colour_data(const std::string& folders, int batch_size, int workers) {
  return {{"folders", folders},
          {"split_fractions", "0.8,0.2,0"},
          {"preprocess", {{"size", 12}}},
          {"augment", {{"hflip", true}}},
          {"batch_size", batch_size},
          {"workers", workers}};
}

}  // namespace i2v::test
