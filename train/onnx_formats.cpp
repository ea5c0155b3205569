#include "train/onnx_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "base/atomic_file.h"
#include "base/error.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// The geometry of the preprocessing, in words, for the input contract.
std::string geometry_words(const Preprocess& p, int64_t size) {
  if (p.resize == ResizeMode::direct) return fmt::format("the whole picture resized to {}x{}", size, size);
  return fmt::format("the shorter side resized to {}, then the centre {}x{} cropped", p.resize_to ? p.resize_to : size,
                     size, size);
}

// The WD order of the outputs: ratings, general, characters; within each, the model's order.
std::vector<int64_t> wd_output_order(const std::vector<ModelOutput>& outputs) {
  std::vector<int64_t> order;
  for (int category : {9, 0, 4})
    for (size_t i = 0; i < outputs.size(); ++i)
      if (wd_category(outputs[i].category) == category) order.push_back(int64_t(i));
  return order;
}

}  // namespace

int wd_category(const std::string& category) {
  if (category == "rating") return 9;
  if (category == "character" || category == "copyright" || category == "artist") return 4;
  return 0;
}

OnnxExportOptions onnx_export_options(const TrainedModel& trained, OnnxFormat format) {
  const Preprocess& p = trained.preprocess;
  const int64_t size = trained.model->input_shape().back();
  OnnxExportOptions options;
  // The model's channel c comes from the input's channel c, or 2 - c where the orders differ.
  const ChannelOrder input_order = format == OnnxFormat::wd ? ChannelOrder::bgr : ChannelOrder::rgb;
  for (int c = 0; c < 3; ++c) {
    options.channel_source[size_t(c)] = p.order == input_order ? c : 2 - c;
    // (pixel · scale − mean) / std, as Preprocess::to_chw computes it.
    options.multiply[size_t(c)] = p.scale / p.std[size_t(c)];
    options.add[size_t(c)] = -p.mean[size_t(c)] / p.std[size_t(c)];
  }
  options.metadata = trained.metadata;
  if (format == OnnxFormat::i2v) {
    options.doc = fmt::format(
        "{}. input: float32 [batch, 3, {}, {}], RGB, values 0-255: {}. output: what `i2v forward` gives.",
        trained.model->name(), size, size, geometry_words(p, size));
    return options;
  }
  I2V_CHECK(trained.multi_label && !trained.outputs.empty(),
            "--format wd: the WD format is a tagger's, and {} is not one (a multi-label model whose weights name "
            "their outputs)", trained.model->name());
  options.channels_last = true;
  options.sigmoid_output = true;
  options.output_order = wd_output_order(trained.outputs);
  options.doc = fmt::format(
      "{} in the WD tagger format. input: float32 [batch, {}, {}, 3], BGR, values 0-255: the picture padded to a "
      "white square and resized to {}x{}. output: the probabilities of the tags of selected_tags.csv, in its order.",
      trained.model->name(), size, size, size, size);
  return options;
}

std::vector<std::string> onnx_export_files(const std::string& path, OnnxFormat format, bool named_outputs) {
  if (format == OnnxFormat::wd)
    return {(fs::path(path) / "model.onnx").string(), (fs::path(path) / "selected_tags.csv").string()};
  if (!named_outputs) return {path};
  const fs::path stem = fs::path(path).extension() == ".onnx" ? fs::path(path).replace_extension() : fs::path(path);
  return {path, stem.string() + ".tags.csv"};
}

std::vector<std::string> export_onnx(TrainedModel& trained, const std::string& path, OnnxFormat format) {
  const std::string model_bytes = onnx_model_bytes(*trained.model, onnx_export_options(trained, format));
  const std::vector<std::string> files = onnx_export_files(path, format, !trained.outputs.empty());
  std::string tags;
  if (format == OnnxFormat::wd) {
    // tag_id: the output's place in the model's own order; count: not recorded in the weights (0).
    tags = "tag_id,name,category,count\n";
    for (int64_t i : wd_output_order(trained.outputs)) {
      const ModelOutput& output = trained.outputs[size_t(i)];
      tags += fmt::format("{},{},{},0\n", i, csv_field(output.name), wd_category(output.category));
    }
    fs::create_directories(path);
  } else {
    tags = "index,name,category\n";
    for (size_t i = 0; i < trained.outputs.size(); ++i)
      tags += fmt::format("{},{},{}\n", i, csv_field(trained.outputs[i].name), csv_field(trained.outputs[i].category));
  }
  write_file_atomically(files[0], model_bytes);
  if (files.size() > 1) write_file_atomically(files[1], tags);
  return files;
}

}  // namespace i2v
