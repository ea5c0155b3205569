#include "data/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/config_fields.h"
#include "base/enum_names.h"
#include "base/error.h"
#include "data/channel_stats.h"

namespace i2v {

using nlohmann::json;

const char* resize_mode_name(ResizeMode mode) { return mode == ResizeMode::direct ? "direct" : "shorter_side"; }

const char* crop_mode_name(CropMode mode) {
  switch (mode) {
    case CropMode::center: return "center";
    case CropMode::random: return "random";
    case CropMode::quarters: return "quarters";
  }
  return "?";
}

const char* channel_order_name(ChannelOrder order) { return order == ChannelOrder::rgb ? "rgb" : "bgr"; }

ResizeMode parse_resize_mode(const std::string& text) {
  return parse_enum(text, {ResizeMode::direct, ResizeMode::shorter_side}, resize_mode_name, "resize mode");
}

CropMode parse_crop_mode(const std::string& text) {
  return parse_enum(text, {CropMode::center, CropMode::random, CropMode::quarters}, crop_mode_name, "crop mode");
}

ChannelOrder parse_channel_order(const std::string& text) {
  return parse_enum(text, {ChannelOrder::rgb, ChannelOrder::bgr}, channel_order_name, "channel order");
}

Preprocess Preprocess::i2v() {
  Preprocess p;
  p.order = ChannelOrder::bgr;
  p.scale = 1.0f;
  p.mean = {164.76139251f, 167.47864617f, 181.13838569f};
  return p;
}

Preprocess Preprocess::imagenet() {
  Preprocess p;
  p.resize = ResizeMode::shorter_side;
  p.resize_to = 256;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  return p;
}

Preprocess Preprocess::preset(const std::string& name) {
  if (name == "i2v") return i2v();
  if (name == "imagenet") return imagenet();
  if (name == "unit") return Preprocess{};
  I2V_THROW("unknown preprocessing preset '{}' (i2v, imagenet or unit)", name);
}

void Preprocess::check() const {
  I2V_CHECK(size > 0 && size <= 8192, "preprocess: size must be in 1..8192, not {}", size);
  I2V_CHECK(resize_to == 0 || resize_to >= size, "preprocess: resize_to ({}) must be 0 or at least size ({})",
            resize_to, size);
  I2V_CHECK(min_area > 0 && min_area <= 1, "preprocess: min_area must be in (0, 1], not {}", min_area);
  I2V_CHECK(std::isfinite(scale) && scale != 0, "preprocess: scale must be finite and non-zero, not {}", scale);
  for (int c = 0; c < 3; ++c)
    I2V_CHECK(std::isfinite(mean[size_t(c)]) && std::isfinite(std[size_t(c)]) && std[size_t(c)] > 0,
              "preprocess: mean must be finite and std positive (channel {}: mean {}, std {})", c, mean[size_t(c)],
              std[size_t(c)]);
}

Box Preprocess::source_box(int width, int height, int view, Rng& rng) const {
  Box region{0, 0, double(width), double(height)};
  if (crop == CropMode::quarters) {
    region.width /= 2;
    region.height /= 2;
    region.x = (view % 2) * region.width;
    region.y = (view / 2) * region.height;
  }
  const bool random = crop == CropMode::random;
  if (resize == ResizeMode::direct) {
    if (!random) return region;
    // A random box of min_area..1 of the picture, aspect ratio log-uniform in 3/4..4/3.
    const double area = region.width * region.height * rng.uniform(min_area, 1.0);
    const double aspect = std::exp(rng.uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
    const double w = std::min(region.width, std::sqrt(area * aspect));
    const double h = std::min(region.height, std::sqrt(area / aspect));
    const double x = region.x + rng.uniform(0.0, region.width - w);
    const double y = region.y + rng.uniform(0.0, region.height - h);
    return {x, y, w, h};
  }
  // Shorter side -> resize_to, then a size × size crop: in source pixels, a square of side c.
  const double shorter = std::min(region.width, region.height);
  const double c = shorter * size / double(resize_to > 0 ? resize_to : size);
  const double x = region.x + (random ? rng.uniform(0.0, region.width - c) : (region.width - c) / 2);
  const double y = region.y + (random ? rng.uniform(0.0, region.height - c) : (region.height - c) / 2);
  return {x, y, c, c};
}

DecodeOptions Preprocess::decode_options(const Box& box, int width, int height, int64_t max_pixels) const {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  options.min_width = int(std::ceil(size * double(width) / box.width - 1e-9));
  options.min_height = int(std::ceil(size * double(height) / box.height - 1e-9));
  return options;
}

void Preprocess::picture_to_chw(const Image& picture, float* chw) const {
  Rng unused(0);  // the centre view draws nothing
  view_to_chw(picture, source_box(picture.width, picture.height, 0, unused), false, chw);
}

void Preprocess::view_to_chw(const Image& picture, const Box& box, bool flip, float* chw) const {
  thread_local std::vector<float> hwc;
  hwc.resize(size_t(size) * size_t(size) * 3);
  resample(picture, box, size, size, hwc.data());
  to_chw(hwc.data(), flip, chw);
}

Preprocess::DecodedView Preprocess::decode_view(const std::string& bytes, const std::string& name, int64_t max_pixels,
                                                int view, Rng& rng) const {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const ImageHeader header = read_image_header(data, bytes.size(), name, max_pixels);
  DecodedView decoded;
  const Box box = source_box(header.width, header.height, view, rng);
  decoded.picture = decode_image(data, bytes.size(), name, decode_options(box, header.width, header.height, max_pixels));
  // JPEGs may come out at 1/2, 1/4 or 1/8 of the size: the box follows.
  const double sx = double(decoded.picture.width) / header.width, sy = double(decoded.picture.height) / header.height;
  decoded.box = {box.x * sx, box.y * sy, box.width * sx, box.height * sy};
  return decoded;
}

void Preprocess::to_chw(const float* hwc, bool flip, float* chw) const {
  const size_t plane = size_t(size) * size_t(size);
  for (int c = 0; c < 3; ++c) {
    const int source_channel = order == ChannelOrder::rgb ? c : 2 - c;
    const float a = scale / std[size_t(c)], b = -mean[size_t(c)] / std[size_t(c)];
    float* out = chw + size_t(c) * plane;
    for (int y = 0; y < size; ++y) {
      const float* row = hwc + size_t(y) * size_t(size) * 3 + size_t(source_channel);
      float* out_row = out + size_t(y) * size_t(size);
      if (flip)
        for (int x = 0; x < size; ++x) out_row[x] = row[size_t(size - 1 - x) * 3] * a + b;
      else
        for (int x = 0; x < size; ++x) out_row[x] = row[size_t(x) * 3] * a + b;
    }
  }
}

void Preprocess::use_stats(const ChannelStats& stats, bool with_std) {
  for (int c = 0; c < 3; ++c) {
    const size_t source_channel = size_t(order == ChannelOrder::rgb ? c : 2 - c);
    mean[size_t(c)] = float(stats.mean[source_channel] * scale);
    if (with_std) std[size_t(c)] = float(stats.std[source_channel] * std::fabs(scale));
  }
}

json Preprocess::to_json() const {
  return {{"size", size},   {"resize", resize_mode_name(resize)}, {"resize_to", resize_to},
          {"crop", crop_mode_name(crop)}, {"min_area", min_area}, {"hflip", hflip},
          {"order", channel_order_name(order)}, {"scale", scale}, {"mean", mean}, {"std", std}};
}

const ConfigSection<Preprocess>& Preprocess::config_fields() {
  // "preset" first: the other fields change it. No defaults here: those of Preprocess{} (or of
  // the preset) stay.
  static const ConfigSection<Preprocess> fields = {
      {"preset", "string", nullptr, [](const json& value, Preprocess& p) { p = preset(value.get<std::string>()); }},
      {"size", nullptr, &Preprocess::size},
      {"resize", "string", nullptr,
       [](const json& value, Preprocess& p) { p.resize = parse_resize_mode(value.get<std::string>()); }},
      {"resize_to", nullptr, &Preprocess::resize_to},
      {"crop", "string", nullptr,
       [](const json& value, Preprocess& p) { p.crop = parse_crop_mode(value.get<std::string>()); }},
      {"min_area", nullptr, &Preprocess::min_area},
      {"hflip", nullptr, &Preprocess::hflip},
      {"order", "string", nullptr,
       [](const json& value, Preprocess& p) { p.order = parse_channel_order(value.get<std::string>()); }},
      {"scale", nullptr, &Preprocess::scale},
      {"mean", nullptr, &Preprocess::mean},
      {"std", nullptr, &Preprocess::std},
  };
  return fields;
}

Preprocess Preprocess::from_json(const json& object, const std::string& where) {
  Preprocess p;
  config_fields().read(object, where, p);
  p.check();
  return p;
}

std::string Preprocess::describe() const {
  std::string geometry = fmt::format("{}x{} {}", size, size, resize_mode_name(resize));
  if (resize == ResizeMode::shorter_side) geometry += fmt::format(" {}", resize_to > 0 ? resize_to : size);
  geometry += fmt::format(" {}", crop_mode_name(crop));
  if (resize == ResizeMode::direct && crop == CropMode::random) geometry += fmt::format(" (area {:g}..1)", min_area);
  if (hflip) geometry += " hflip";
  return fmt::format("{}, {}, scale {:g}, mean ({:g}, {:g}, {:g}), std ({:g}, {:g}, {:g})", geometry,
                     order == ChannelOrder::rgb ? "RGB" : "BGR", scale, mean[0], mean[1], mean[2], std[0], std[1],
                     std[2]);
}

}  // namespace i2v
