// `i2v cam`: where the tagger sees a tag — the class activation map of the tag (its channel of
// conv6_4, before global average pooling) over the picture.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/render.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "data/image.h"
#include "train/inference.h"
#include "data/vocabulary.h"

namespace i2v::app {
namespace {

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
    save_png(output, class_activation_overlay(image, map, h, w, opacity));
    std::printf("%s: %s probability %.3f (map %lldx%lld); wrote %s\n", picture.c_str(),
                tag_display_name(tagger.outputs[size_t(index)].name).c_str(), 1.0 / (1.0 + std::exp(-mean)),
                static_cast<long long>(h), static_cast<long long>(w), output.c_str());
  });
}

const bool registered = register_command("cam", add_cam_command);

}  // namespace
}  // namespace i2v::app
