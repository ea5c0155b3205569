// `i2v inspect filters`, `activations` and `gradients`: pictures of what a trained network holds,
// what each of its layers sees, and how one training step would change it.
//
//   filters      a layer's convolution filters as a grid of tiles: the first layer's in colour
//                (its three input channels as RGB), a deeper layer's as their mean over the
//                input channels; one scale for the whole layer, stated (grey = 0).
//   activations  one picture through the network; per layer with a spatial output, a sheet of its
//                channels (strongest first, one scale per sheet) and a table of every layer's
//                output shape, mean, std and fraction of zeros.
//   gradients    one batch of a dataset through the network in train mode, the loss and the
//                backward pass: each parameter's norm, its gradient's norm, and the size of an
//                SGD step at a rate relative to the weights (lr·|g|/|w|; about 1e-3 is healthy),
//                as a table, JSON and a PNG bar chart on a log scale.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "apps/render.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "data/data_loader.h"
#include "data/image.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "train/inference.h"

namespace i2v::app {
namespace {

// Tiles of tile_w × tile_h pixels in rows of `columns`, a 2-pixel white gap around each.
Image tile_grid(const std::vector<Image>& tiles, int columns) {
  constexpr int kGap = 2;
  const int rows = int((tiles.size() + size_t(columns) - 1) / size_t(columns));
  const uint8_t white[3] = {255, 255, 255};
  Image grid = blank(kGap + columns * (tiles[0].width + kGap), kGap + rows * (tiles[0].height + kGap), white);
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
    const Tensor values = output.to(Device::cpu()).cast(DType::f32).contiguous();
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

struct GradientRow {
  std::string name;
  Shape shape;
  double weight_norm = 0, grad_norm = 0, step = 0;  // step: lr·|g|/|w|
};

double norm_of(const Tensor& tensor) {
  double sum = 0;
  for (float v : tensor.to(Device::cpu()).contiguous().to_vector<float>()) sum += double(v) * double(v);
  return std::sqrt(sum);
}

// Bars of log10(step) from 1e-7 to 1, a row per parameter with its name, and the 1e-3 rule of
// thumb marked.
Image step_chart(const std::vector<GradientRow>& rows) {
  constexpr int kRow = 16, kLabel = 190, kBar = 420, kTop = 28;
  const uint8_t ink[3] = {40, 40, 40}, bar[3] = {30, 136, 229}, grid[3] = {220, 220, 220},
                mark[3] = {239, 108, 0}, white[3] = {255, 255, 255};
  Image chart = blank(kLabel + kBar + 70, kTop + kRow * int(rows.size()) + 8, white);
  const auto x_of = [&](double step) {
    return kLabel + int(std::lround(std::clamp((std::log10(std::max(step, 1e-30)) + 7.0) / 7.0, 0.0, 1.0) * kBar));
  };
  for (int decade = -7; decade <= 0; ++decade) {
    const int x = x_of(std::pow(10.0, decade));
    fill_rect(chart, x, kTop - 4, 1, chart.height - kTop, decade == -3 ? mark : grid);
    draw_text(chart, x - 10, 6, fmt::format("1e{}", decade), ink);
  }
  draw_text(chart, 4, 6, "lr*|grad|/|weight|", ink);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int y = kTop + int(r) * kRow;
    draw_text(chart, 4, y + 3, rows[r].name.substr(0, 30), ink);
    fill_rect(chart, kLabel, y + 3, x_of(rows[r].step) - kLabel, kRow - 6, bar);
    draw_text(chart, kLabel + kBar + 6, y + 3, fmt::format("{:.1e}", rows[r].step), ink);
  }
  return chart;
}

void run_gradients(const std::string& weights, const DataSourceOptions& source, int64_t batch_size, double lr,
                   const std::string& reduction, const std::string& output, const std::string& json_path,
                   const DeviceOptions& device_options) {
  const Device device = device_options.apply();
  TrainedModel trained = load_trained_model(weights, device);
  DatasetOptions options;
  options.preprocess = trained.preprocess;
  auto dataset = std::make_shared<const Dataset>(source.read(), Split::train, options);
  LoaderOptions loader_options;
  loader_options.batch_size = batch_size;
  loader_options.seed = 1;
  DataLoader loader(dataset, loader_options);
  const std::optional<Batch> batch = loader.next();
  I2V_CHECK(batch && batch->size() > 0, "no readable picture in the first batch of the train split");
  std::unique_ptr<Loss> loss;
  if (trained.multi_label)
    loss = std::make_unique<BCEWithLogits>(reduction == "batch_mean" ? Reduction::batch_mean : Reduction::mean);
  else loss = std::make_unique<CrossEntropy>();
  Model& model = *trained.model;
  model.zero_grad();
  const Tensor logits = model.forward(batch->images.to(device), batch->auxiliary_on(device), Mode::train);
  const double value = loss->forward({logits, batch->targets.to(device)}).cast(DType::f64).item<double>({0});
  model.backward(loss->backward());
  std::vector<GradientRow> rows;
  for (auto& [name, parameter] : model.parameters()) {
    if (!parameter->requires_grad) continue;
    GradientRow row{name, parameter->value.shape(), norm_of(parameter->value), norm_of(parameter->grad)};
    row.step = row.weight_norm > 0 ? lr * row.grad_norm / row.weight_norm : 0;
    rows.push_back(row);
  }
  std::printf("one batch of %lld pictures, loss %.6g (%s); an SGD step at lr %g:\n",
              static_cast<long long>(batch->size()), value, loss->describe().c_str(), lr);
  std::printf("%-24s %-18s %12s %12s %12s\n", "parameter", "shape", "|weight|", "|grad|", "lr*|g|/|w|");
  nlohmann::json table = nlohmann::json::array();
  for (const GradientRow& row : rows) {
    std::printf("%-24s %-18s %12.4g %12.4g %12.3g\n", row.name.c_str(), shape_str(row.shape).c_str(), row.weight_norm,
                row.grad_norm, row.step);
    table.push_back({{"parameter", row.name}, {"shape", row.shape}, {"weight_norm", row.weight_norm},
                     {"grad_norm", row.grad_norm}, {"step_ratio", row.step}});
  }
  save_png(output, step_chart(rows));
  if (!json_path.empty())
    write_file_atomically(json_path, nlohmann::json{{"loss", value}, {"lr", lr}, {"batch", batch->size()},
                                                    {"parameters", table}}.dump(2) + "\n");
  std::printf("wrote %s%s\n", output.c_str(), json_path.empty() ? "" : (" and " + json_path).c_str());
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

  static DataSourceOptions source;
  static int64_t batch_size = 16;
  static double lr = 0.01;
  static std::string json_path, reduction = "mean";
  CLI::App* gradients =
      inspect->add_subcommand("gradients", "How one training step would change each layer: gradient norms and step sizes");
  gradients->add_option("--weights", weights, "Trained (or freshly initialised) weights")->required();
  source.add(gradients);
  gradients->add_option("--batch", batch_size, "Pictures in the batch")->capture_default_str()->check(at_least(1));
  gradients->add_option("--lr", lr, "The learning rate the step sizes are for")->capture_default_str()->check(above(0));
  gradients->add_option("-o,--output", output, "The bar chart PNG to write")->required();
  gradients->add_option("--json", json_path, "Also write the table as JSON");
  gradients->add_option("--reduction", reduction,
                        "A tagger's loss reduction, as its run's loss.reduction: mean, or batch_mean (the demo's)")
      ->capture_default_str()->check(CLI::IsMember({"mean", "batch_mean"}));
  device.add(gradients);
  gradients->footer(
      "One batch of the train split (the weights' preprocessing, no augmentation) goes through the\n"
      "network in train mode, then the loss (BCE for a tagger, cross-entropy for a classifier) and the\n"
      "backward pass. For each parameter: its norm, its gradient's norm, and lr * |grad| / |weight|,\n"
      "the relative size of one SGD step (0 for a parameter that is all zeros, such as fresh biases).\n"
      "Around 1e-3 is the usual rule of thumb; far below, a layer barely learns; far above, it is\n"
      "thrown about.\n\n"
      "Example:\n"
      "  i2v inspect gradients --weights runs/tag/best.safetensors --metadata dump/metadata.jsonl \\\n"
      "      --images dump --vocab vocab.json --reduction batch_mean -o gradients.png --json gradients.json");
  gradients->callback([] {
    CommandFiles files;
    files.input("--weights", weights);
    add_inputs(files, source);
    files.output("-o", output).output("--json", json_path);
    files.check();
    run_gradients(weights, source, batch_size, lr, reduction, output, json_path, device);
  });
}

const bool registered = register_command("inspect", add_inspect_command);

}  // namespace
}  // namespace i2v::app
