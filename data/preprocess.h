// From a decoded picture to a network input: geometry (resize, crop, flip) and values (channel
// order, scale, mean and standard deviation), as options.
//
// Geometry: the output is size × size.
//   resize direct        the whole picture squashed to size × size (what illustration2vec does)
//   resize shorter_side  the shorter side scaled to resize_to (default: size), then a size × size crop
//   crop center          direct: the whole picture; shorter_side: the centre square
//   crop random          direct: a random box of min_area..1 of the picture with aspect ratio
//                        3/4..4/3 (the "random resized crop"); shorter_side: a random position
//   crop quarters        each picture gives four samples, its 2 × 2 quarters (top-left,
//                        top-right, bottom-left, bottom-right), each then resized as above;
//                        a crop mode, not a copy on disk
//   hflip                a random horizontal flip (probability 1/2)
// All of it is one resampling from the source box to size × size (area average when shrinking,
// bilinear when growing), and JPEGs are decoded in the DCT domain at the smallest scale that
// still gives the box at least size pixels.
//
// Values, per output channel c (in the output channel order):
//   value = (pixel * scale - mean[c]) / std[c]       pixel in 0..255
// Defaults (Preprocess{}): 224, direct, center, no flip, RGB, scale 1/255, mean 0, std 1 —
// values in [0, 1]. Presets:
//   i2v       224, direct, BGR, scale 1, mean (164.76139251, 167.47864617, 181.13838569) in BGR
//             order, std 1: the original illustration2vec input (values 0–255 minus the mean)
//   imagenet  224, shorter side 256 + centre crop, RGB, scale 1/255, mean (0.485, 0.456, 0.406),
//             std (0.229, 0.224, 0.225): torchvision's ImageNet models (e.g. VGG-19)
//   unit      the defaults
// A mean (and std) measured over a training set (data/channel_stats.h) can replace the mean.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/image.h"
#include "base/random.h"

namespace i2v {

enum class ResizeMode { direct, shorter_side };
enum class CropMode { center, random, quarters };
enum class ChannelOrder { rgb, bgr };

struct ChannelStats;
template <typename T>
class ConfigSection;

struct Preprocess {
  int size = 224;
  ResizeMode resize = ResizeMode::direct;
  int resize_to = 0;  // shorter_side: the shorter side's length before the crop; 0 = size
  CropMode crop = CropMode::center;
  double min_area = 0.5;  // direct + random crop: the smallest fraction of the picture kept
  bool hflip = false;
  ChannelOrder order = ChannelOrder::rgb;
  float scale = 1.0f / 255.0f;
  std::array<float, 3> mean{0.0f, 0.0f, 0.0f};  // in output channel order, in scaled units
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};

  static Preprocess i2v();
  static Preprocess imagenet();
  // "i2v", "imagenet", "unit".
  static Preprocess preset(const std::string& name);

  // Throws when an option is out of range.
  void check() const;
  // Samples per picture: 4 with crop quarters, else 1.
  int views() const { return crop == CropMode::quarters ? 4 : 1; }

  // The box of a width × height picture that view `view` of a sample shows; random crops draw
  // from `rng`.
  Box source_box(int width, int height, int view, Rng& rng) const;
  // The smallest decoded size that keeps at least `size` pixels across `box` of a
  // width × height picture (for DCT-domain scaled JPEG decoding).
  DecodeOptions decode_options(const Box& box, int width, int height, int64_t max_pixels) const;
  // `hwc` (size × size × 3 floats, RGB, 0..255, from resample()) -> `chw` (3 × size × size),
  // mirrored when `flip`, in the channel order, scaled and normalised.
  void to_chw(const float* hwc, bool flip, float* chw) const;
  // The network input of a decoded picture at inference: view 0 (the centre), no flip — what
  // Dataset::load makes of it, less the JPEG decoder's DCT-domain shortcut. chw: 3 × size × size.
  void picture_to_chw(const Image& picture, float* chw) const;
  // `box` of `picture` resampled to size × size, then to_chw: the last step of every path above.
  void view_to_chw(const Image& picture, const Box& box, bool flip, float* chw) const;

  // An encoded picture (`bytes`; `name` for errors) decoded for view `view` (its box drawn from
  // `rng`): a JPEG at the smallest DCT scale that keeps `size` pixels across the box, the box
  // then in the decoded picture's pixels. Throws DataError as decode_image does.
  struct DecodedView {
    Image picture;
    Box box;
  };
  DecodedView decode_view(const std::string& bytes, const std::string& name, int64_t max_pixels, int view,
                          Rng& rng) const;

  // The mean (and, when `with_std`, the std) of `stats`, measured in RGB pixel values, in this
  // preprocessing's channel order and scale.
  void use_stats(const ChannelStats& stats, bool with_std);

  nlohmann::json to_json() const;
  // `where` names the section in errors ("data.preprocess").
  static Preprocess from_json(const nlohmann::json& json, const std::string& where = "preprocess");
  // The table from_json reads with (base/config_fields.h).
  static const ConfigSection<Preprocess>& config_fields();
  // One line: "224x224 direct center, RGB, scale 0.00392, mean (0, 0, 0), std (1, 1, 1)".
  std::string describe() const;
};

const char* resize_mode_name(ResizeMode mode);  // "direct", "shorter_side"
const char* crop_mode_name(CropMode mode);      // "center", "random", "quarters"
const char* channel_order_name(ChannelOrder order);  // "rgb", "bgr"
ResizeMode parse_resize_mode(const std::string& text);
CropMode parse_crop_mode(const std::string& text);
ChannelOrder parse_channel_order(const std::string& text);

}  // namespace i2v
