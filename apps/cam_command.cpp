// `i2v cam`: where the tagger sees a tag — the class activation map of the tag (its channel of
// conv6_4, before global average pooling) over the picture.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "data/image.h"
#include "train/inference.h"
#include "data/vocabulary.h"

namespace i2v::app {
namespace {

// A blue -> cyan -> yellow -> red ramp for t in [0, 1].
void heat_colour(float t, float rgb[3]) {
  const float stops[4][3] = {{0, 0, 160}, {0, 200, 255}, {255, 230, 0}, {230, 0, 0}};
  const float x = std::clamp(t, 0.0f, 1.0f) * 3.0f;
  const int i = std::min(int(x), 2);
  const float f = x - float(i);
  for (int c = 0; c < 3; ++c) rgb[c] = stops[i][c] * (1 - f) + stops[i + 1][c] * f;
}

// The map (h × w, any range) normalised to [0, 1], upsampled bilinearly to the picture and
// blended over it.
Image overlay(const Image& picture, const std::vector<float>& map, int64_t h, int64_t w, float opacity) {
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

void add_cam_command(CLI::App& app) {
  static std::string picture, weights, tag, output, layer = "conv6_4";
  static DeviceOptions device;
  static int size = 256;
  static float opacity = 0.5f;
  CLI::App* cmd = app.add_subcommand("cam", "Show where the tagger sees a tag: its class activation map over the picture");
  cmd->add_option("picture", picture, "The picture")->required();
  cmd->add_option("--weights", weights, "An i2v-tag model's weights")->required();
  cmd->add_option("--tag", tag, "The tag (spaces or underscores)")->required();
  cmd->add_option("-o,--output", output, "The PNG to write")->required();
  cmd->add_option("--layer", layer, "The layer of per-tag maps before the global pooling")->capture_default_str();
  cmd->add_option("--size", size, "Longer side of the picture in the PNG, pixels")
      ->capture_default_str()->check(at_least(1));
  cmd->add_option("--opacity", opacity, "Of the heat map over the picture, 0..1")
      ->capture_default_str()->check(in_range(0, 1));
  device.add(cmd);
  cmd->footer(
      "i2v-tag scores a tag as the average of its channel of conv6_4 over the picture; that channel,\n"
      "before the average, is the tag's class activation map (Zhou et al., 2016): red where the\n"
      "network finds the tag, blue where it does not (scaled to the map's own range).\n\n"
      "Example:\n"
      "  i2v cam 1f600.png --weights runs/tag/best.safetensors --tag \"smiling face\" -o heat.png");
  cmd->callback([] {
    CommandFiles files;
    files.input("picture", picture).input("--weights", weights).output("-o", output);
    files.check();
    const Device target = device.apply();
    TrainedModel tagger = load_trained_model(weights, target);
    auto normalise = [](std::string name) {
      std::replace(name.begin(), name.end(), ' ', '_');
      return name;
    };
    int64_t index = -1;
    for (size_t i = 0; i < tagger.outputs.size(); ++i)
      if (tagger.outputs[i].name == normalise(tag)) index = int64_t(i);
    I2V_CHECK(index >= 0, "{} has no output '{}' (i2v vocab show lists the tags)", weights, tag);
    DatasetOptions options;
    options.preprocess = tagger.preprocess;
    auto dataset = std::make_shared<const Dataset>(std::make_shared<const DatasetContents>(read_image_list({picture})),
                                                   std::nullopt, options);
    const Tensor maps = dataset->get(0).image.unsqueeze(0).to(target);
    const Tensor activation = tagger.model->forward(maps, Mode::eval, layer).to(Device::cpu());
    I2V_CHECK(activation.dim() == 4 && activation.size(1) == int64_t(tagger.outputs.size()),
              "layer {} gives {}: a class activation map needs [1, outputs, H, W] (i2v-tag's conv6_4)", layer,
              shape_str(activation.shape()));
    const int64_t h = activation.size(2), w = activation.size(3);
    const Tensor channel = activation.select(0, 0).select(0, index).contiguous();
    const std::vector<float> map = channel.to_vector<float>();
    double mean = 0;
    for (float v : map) mean += v;
    mean /= double(map.size());
    Image image = load_image(picture);
    const double scale = double(size) / double(std::max(image.width, image.height));
    image = resize_image(image, std::max(1, int(std::lround(image.width * scale))),
                         std::max(1, int(std::lround(image.height * scale))));
    save_png(output, overlay(image, map, h, w, opacity));
    std::printf("%s: %s probability %.3f (map %lldx%lld); wrote %s\n", picture.c_str(),
                tag_display_name(tagger.outputs[size_t(index)].name).c_str(), 1.0 / (1.0 + std::exp(-mean)),
                static_cast<long long>(h), static_cast<long long>(w), output.c_str());
  });
}

const bool registered = register_command("cam", add_cam_command);

}  // namespace
}  // namespace i2v::app
