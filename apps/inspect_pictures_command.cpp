// `i2v inspect filters` and `i2v inspect activations`: pictures of what a trained network holds
// and what each of its layers sees.
//
//   filters      a layer's convolution filters as a grid of tiles: the first layer's in colour
//                (its three input channels as RGB), a deeper layer's as their mean over the
//                input channels; one scale for the whole layer, stated (grey = 0).
//   activations  one picture through the network; per layer with a spatial output, a sheet of its
//                channels (strongest first, one scale per sheet) and a table of every layer's
//                output shape, mean, std and fraction of zeros.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "data/image.h"
#include "train/inference.h"

namespace i2v::app {
namespace {

// Tiles of tile_w × tile_h pixels in rows of `columns`, a 2-pixel white gap around each.
Image tile_grid(const std::vector<Image>& tiles, int columns) {
  constexpr int kGap = 2;
  const int rows = int((tiles.size() + size_t(columns) - 1) / size_t(columns));
  Image grid;
  grid.width = kGap + columns * (tiles[0].width + kGap);
  grid.height = kGap + rows * (tiles[0].height + kGap);
  grid.rgb.assign(size_t(grid.width) * size_t(grid.height) * 3, 255);
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int x0 = kGap + int(t % size_t(columns)) * (tiles[0].width + kGap);
    const int y0 = kGap + int(t / size_t(columns)) * (tiles[0].height + kGap);
    for (int y = 0; y < tiles[t].height; ++y)
      std::copy_n(tiles[t].pixel(0, y), tiles[t].width * 3, grid.pixel(x0, y0 + y));
  }
  return grid;
}

// A tile of h × w values, each `zoom` pixels wide, as grey levels from `to_level`.
template <typename Level>
Image value_tile(int64_t h, int64_t w, int zoom, Level to_level) {
  Image tile;
  tile.width = int(w) * zoom;
  tile.height = int(h) * zoom;
  tile.rgb.resize(size_t(tile.width) * size_t(tile.height) * 3);
  for (int y = 0; y < tile.height; ++y)
    for (int x = 0; x < tile.width; ++x) to_level(y / zoom, x / zoom, tile.pixel(x, y));
  return tile;
}

uint8_t level(double value) { return uint8_t(std::lround(std::clamp(value, 0.0, 255.0))); }

void run_filters(const std::string& weights, const std::string& layer_name, const std::string& output, int zoom,
                 const DeviceOptions& device) {
  TrainedModel trained = load_trained_model(weights, device.apply());
  std::string layer = layer_name;
  if (layer.empty())  // the first layer with a 4-D weight
    for (auto& [name, parameter] : trained.model->parameters())
      if (layer.empty() && parameter->value.dim() == 4) layer = name.substr(0, name.rfind('.'));
  I2V_CHECK(!layer.empty(), "{} has no convolution", weights);
  Tensor weight;
  for (auto& [name, parameter] : trained.model->parameters())
    if (name == layer + ".weight") weight = parameter->value.to(Device::cpu()).contiguous();
  I2V_CHECK(weight.defined() && weight.dim() == 4, "{} has no convolution named {} (its layers: i2v model summary)",
            weights, layer);
  const int64_t out = weight.size(0), in = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const std::vector<float> w = weight.to_vector<float>();
  const bool colour = in == 3;
  // A deeper layer shows each filter's mean over its input channels.
  std::vector<float> shown = w;
  if (!colour) {
    shown.assign(size_t(out * kh * kw), 0.0f);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i)
        for (int64_t k = 0; k < kh * kw; ++k) shown[size_t(o * kh * kw + k)] += w[size_t((o * in + i) * kh * kw + k)] / float(in);
  }
  float scale = 0;
  for (float v : shown) scale = std::max(scale, std::abs(v));
  scale = scale > 0 ? scale : 1;
  // The input's channel order (BGR for the release's preprocessing) shown as RGB.
  const bool bgr = trained.preprocess.order == ChannelOrder::bgr;
  std::vector<Image> tiles;
  for (int64_t o = 0; o < out; ++o)
    tiles.push_back(value_tile(kh, kw, zoom, [&](int64_t y, int64_t x, uint8_t* rgb) {
      for (int c = 0; c < 3; ++c) {
        const int64_t channel = colour ? (bgr ? 2 - c : c) : 0;
        const float v = colour ? shown[size_t(((o * in + channel) * kh + y) * kw + x)] : shown[size_t((o * kh + y) * kw + x)];
        rgb[c] = level(127.5 + 127.5 * v / scale);
      }
    }));
  const Image grid = tile_grid(tiles, int(std::ceil(std::sqrt(double(out)))));
  save_png(output, grid);
  std::printf("%s: %lld filters of %lldx%lldx%lld%s; scale: %+.4g is white, %+.4g black, 0 grey; wrote %s (%dx%d)\n",
              layer.c_str(), static_cast<long long>(out), static_cast<long long>(in), static_cast<long long>(kh),
              static_cast<long long>(kw), colour ? " (input channels as RGB)" : ", each shown as its mean over the inputs",
              double(scale), -double(scale), output.c_str(), grid.width, grid.height);
}

struct LayerStats {
  std::string layer;
  Shape shape;
  double mean = 0, std = 0, zeros = 0;
};

void run_activations(const std::string& picture, const std::string& weights, const std::string& folder,
                     int max_channels, const DeviceOptions& device_options) {
  const Device device = device_options.apply();
  TrainedModel trained = load_trained_model(weights, device);
  const Preprocess& pre = trained.preprocess;
  Tensor input = Tensor::empty({1, 3, pre.size, pre.size});
  pre.picture_to_chw(load_image(picture), input.data<float>());
  std::filesystem::create_directories(folder);
  std::vector<LayerStats> stats;
  int sheets = 0;
  trained.model->forward(input.to(device), {}, Mode::eval, "", [&](const std::string& layer, const Tensor& output) {
    const Tensor values = output.to(Device::cpu()).contiguous();
    const std::vector<float> v = values.to_vector<float>();
    LayerStats s{layer, Shape(values.shape().begin() + 1, values.shape().end())};
    for (float x : v) {
      s.mean += x;
      s.zeros += x == 0.0f;
    }
    s.mean /= double(v.size());
    for (float x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(v.size()));
    s.zeros /= double(v.size());
    stats.push_back(s);
    if (values.dim() != 4) return;
    // Channels strongest first (by mean activation), at most max_channels, one scale for the sheet.
    const int64_t channels = values.size(1), h = values.size(2), w = values.size(3);
    std::vector<double> strength(static_cast<size_t>(channels), 0.0);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < h * w; ++k) strength[size_t(c)] += v[size_t(c * h * w + k)];
    std::vector<int64_t> order(static_cast<size_t>(channels));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return strength[size_t(a)] > strength[size_t(b)]; });
    order.resize(size_t(std::min<int64_t>(channels, max_channels)));
    float low = 0, high = 0;
    for (int64_t c : order)
      for (int64_t k = 0; k < h * w; ++k) {
        low = std::min(low, v[size_t(c * h * w + k)]);
        high = std::max(high, v[size_t(c * h * w + k)]);
      }
    const float range = high - low > 0 ? high - low : 1;
    const int zoom = std::max<int>(1, int(48 / std::max(h, w)));
    std::vector<Image> tiles;
    for (int64_t c : order)
      tiles.push_back(value_tile(h, w, zoom, [&](int64_t y, int64_t x, uint8_t* rgb) {
        rgb[0] = rgb[1] = rgb[2] = level(255.0 * (v[size_t((c * h + y) * w + x)] - low) / range);
      }));
    save_png(fmt::format("{}/{:02d}-{}.png", folder, sheets++, layer),
             tile_grid(tiles, int(std::ceil(std::sqrt(double(tiles.size()))))));
  });
  nlohmann::json table = nlohmann::json::array();
  std::printf("%-14s %-18s %12s %12s %8s\n", "layer", "output", "mean", "std", "zeros");
  for (const LayerStats& s : stats) {
    std::printf("%-14s %-18s %12.4g %12.4g %7.1f%%\n", s.layer.c_str(), shape_str(s.shape).c_str(), s.mean, s.std,
                100 * s.zeros);
    table.push_back({{"layer", s.layer}, {"shape", s.shape}, {"mean", s.mean}, {"std", s.std}, {"zeros", s.zeros}});
  }
  write_file_atomically(folder + "/summary.json", table.dump(2) + "\n");
  std::printf("wrote %d sheets (channels strongest first, black = the sheet's lowest, white = its highest) and "
              "summary.json to %s\n", sheets, folder.c_str());
}

void add_inspect_command(CLI::App& app) {
  CLI::App* inspect = app.add_subcommand("inspect", "Look inside a network: its filters, and what each layer sees");
  inspect->require_subcommand(1);

  static std::string weights, layer, output, picture, folder;
  static int zoom = 8, max_channels = 64;
  static DeviceOptions device;
  CLI::App* filters = inspect->add_subcommand("filters", "A layer's convolution filters as a PNG grid");
  filters->add_option("--weights", weights, "Trained weights (safetensors)")->required();
  filters->add_option("--layer", layer, "The convolution (default: the first)");
  filters->add_option("-o,--output", output, "The PNG to write")->required();
  filters->add_option("--zoom", zoom, "Pixels per weight")->capture_default_str()->check(in_range(1, 64));
  device.add(filters);
  filters->footer(
      "The first layer's filters in colour (their input channels as RGB); a deeper layer's as their\n"
      "mean over the input channels. One scale for the whole layer: grey is 0, white and black the\n"
      "largest weight either way (printed).\n\n"
      "Examples:\n"
      "  i2v inspect filters --weights runs/tag/best.safetensors -o conv1_1.png\n"
      "  i2v inspect filters --weights runs/tag/best.safetensors --layer conv3_1 -o conv3_1.png");
  filters->callback([] {
    CommandFiles files;
    files.input("--weights", weights).output("-o", output);
    files.check();
    run_filters(weights, layer, output, zoom, device);
  });

  CLI::App* activations = inspect->add_subcommand("activations", "What each layer sees of one picture: PNG sheets and a table");
  activations->add_option("picture", picture, "The picture")->required();
  activations->add_option("--weights", weights, "Trained weights (safetensors)")->required();
  activations->add_option("-o,--output", folder, "The folder to write the sheets and summary.json into")->required();
  activations->add_option("--max-channels", max_channels, "Channels per sheet at most (the strongest)")
      ->capture_default_str()->check(at_least(1));
  device.add(activations);
  activations->footer(
      "One sheet per layer with a spatial output (NN-<layer>.png): each channel a tile, strongest\n"
      "(largest mean) first, on one scale per sheet. The table gives every layer's output shape, mean,\n"
      "std and fraction of zeros (how much of a ReLU's output is off).\n\n"
      "Example:\n"
      "  i2v inspect activations 1f600.png --weights runs/tag/best.safetensors -o inside/");
  activations->callback([] {
    CommandFiles files;
    files.input("picture", picture).input("--weights", weights).output("-o", folder + "/summary.json");
    files.check();
    run_activations(picture, weights, folder, max_channels, device);
  });
}

const bool registered = register_command("inspect", add_inspect_command);

}  // namespace
}  // namespace i2v::app
