// `i2v weights`: the group of commands on weight files (safetensors, nn/safetensors.h): show,
// init, import-caffe, convert.
//
// The group is created once, in add_weights_command(); each subcommand is one
// add_<name>_subcommand(CLI::App& weights) function in this file, called from there. To add a
// subcommand (e.g. `init`), write add_init_subcommand() — weights.add_subcommand("init", ...),
// its options, a footer with examples, and a callback — and call it from add_weights_command().
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/model_options.h"
#include "nn/caffe_model.h"
#include "nn/model_config.h"
#include "data/preprocess.h"
#include "data/release_tag_list.h"
#include "base/error.h"
#include "nn/safetensors.h"
#include "base/text.h"
#include "train/checkpoint.h"

namespace i2v::app {
namespace {

// ---- formatting -----------------------------------------------------------------------------------

// Columns padded to their widest cell; `right_aligned[c]` for numbers.
void print_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right_aligned) {
  std::vector<size_t> widths(right_aligned.size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string padding(widths[c] - row[c].size(), ' ');
      line += (c ? "  " : "") + (right_aligned[c] ? padding + row[c] : row[c] + (c + 1 < row.size() ? padding : ""));
    }
    std::printf("%s\n", line.c_str());
  }
}

// ---- statistics ------------------------------------------------------------------------------------

struct Stats {
  double mean = NAN, std = NAN, min = NAN, max = NAN;  // over the finite values
  int64_t non_finite = 0;
};

template <typename T>
Stats stats_of(const T* values, int64_t n) {
  Stats stats;
  double sum = 0;
  int64_t finite = 0;
  stats.min = std::numeric_limits<double>::infinity();
  stats.max = -stats.min;
  for (int64_t i = 0; i < n; ++i) {
    const double v = double(values[i]);
    if (!std::isfinite(v)) continue;
    sum += v;
    stats.min = std::min(stats.min, v);
    stats.max = std::max(stats.max, v);
    ++finite;
  }
  stats.non_finite = n - finite;
  if (finite == 0) return Stats{NAN, NAN, NAN, NAN, stats.non_finite};
  stats.mean = sum / double(finite);
  double squares = 0;  // a second pass: exact enough when the mean is far from 0
  for (int64_t i = 0; i < n; ++i) {
    const double v = double(values[i]);
    if (std::isfinite(v)) squares += (v - stats.mean) * (v - stats.mean);
  }
  stats.std = std::sqrt(squares / double(finite));
  return stats;
}

Stats tensor_stats(const Tensor& tensor) {
  if (tensor.dtype() == DType::f32) return stats_of(tensor.data<float>(), tensor.numel());
  const Tensor doubles = tensor.cast(DType::f64);
  return stats_of(doubles.data<double>(), doubles.numel());
}

std::string number(double v) { return std::isnan(v) ? "-" : fmt::format("{:.4g}", v); }

// ---- i2v weights show ---------------------------------------------------------------------------------

struct ShowOptions {
  std::string path;
  bool stats = false;
  std::string metadata_key;
};

// A metadata value on one line, shortened when long (a checkpoint's state is a whole JSON document).
std::string metadata_preview(const std::string& key, const std::string& value) {
  constexpr size_t kMostCharacters = 100;
  const size_t newline = value.find('\n');
  if (value.size() <= kMostCharacters && newline == std::string::npos) return value;
  return fmt::format("{}... ({} characters; --metadata {} prints it all)",
                     value.substr(0, std::min(kMostCharacters, newline)), value.size(), key);
}

void show_weights(const ShowOptions& options) {
  const SafetensorsFile file(options.path);
  if (!options.metadata_key.empty()) {
    const auto found = file.metadata().find(options.metadata_key);
    std::string keys;
    for (const auto& [key, value] : file.metadata()) keys += (keys.empty() ? "" : ", ") + key;
    I2V_CHECK(found != file.metadata().end(), "{} has no metadata '{}' (it has: {})", options.path,
              options.metadata_key, keys.empty() ? "none" : keys);
    std::printf("%s\n", found->second.c_str());
    return;
  }

  std::vector<const SafetensorsEntry*> entries;
  for (const SafetensorsEntry& entry : file.entries()) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) { return natural_less(a->name, b->name); });

  std::vector<std::vector<std::string>> rows = {{"name", "dtype", "shape", "parameters", "bytes"}};
  std::vector<bool> right_aligned = {false, false, false, true, true};
  if (options.stats) {
    for (const char* column : {"mean", "std", "min", "max", "non-finite"}) rows[0].push_back(column);
    right_aligned.insert(right_aligned.end(), 5, true);
  }
  uint64_t parameters = 0, bytes = 0;
  std::map<std::string, int> dtype_counts;
  for (const SafetensorsEntry* entry : entries) {
    parameters += uint64_t(entry->numel());
    bytes += entry->end - entry->begin;
    ++dtype_counts[entry->dtype];
    rows.push_back({entry->name, entry->dtype, shape_str(entry->shape), format_count(entry->numel()),
                    format_count(int64_t(entry->end - entry->begin))});
    if (options.stats) {
      const Stats stats = tensor_stats(file.read(*entry));
      for (double v : {stats.mean, stats.std, stats.min, stats.max}) rows.back().push_back(number(v));
      rows.back().push_back(format_count(int64_t(stats.non_finite)));
    }
  }
  rows.push_back({"total", "", "", format_count(int64_t(parameters)), format_count(int64_t(bytes))});

  std::string dtypes;
  for (const auto& [dtype, count] : dtype_counts) dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", count, dtype);
  std::printf("%s: %zu tensors (%s), %s parameters, %s of tensor data, file %s\n", options.path.c_str(),
              entries.size(), dtypes.empty() ? "none" : dtypes.c_str(), format_count(int64_t(parameters)).c_str(),
              format_bytes(double(bytes)).c_str(), format_bytes(double(file.file_bytes())).c_str());
  std::string damage;  // a checkpoint whose checksum fails is listed, then the command fails
  if (has_checkpoint_checksum(file)) {
    try {
      verify_checkpoint_checksum(file);
      std::printf("an i2v checkpoint: checksum verified\n");
    } catch (const Error& e) {
      damage = e.message();
      std::printf("an i2v checkpoint, DAMAGED: %s\n", damage.c_str());
    }
  }
  if (!file.metadata().empty()) {
    std::printf("metadata:\n");
    std::vector<std::vector<std::string>> metadata_rows;
    for (const auto& [key, value] : file.metadata()) metadata_rows.push_back({"  " + key, metadata_preview(key, value)});
    print_table(metadata_rows, {false, false});
  }
  std::printf("\n");
  print_table(rows, right_aligned);
  if (options.stats) std::printf("\nstatistics over the finite values; std is the population standard deviation\n");
  I2V_CHECK(damage.empty(), "a damaged checkpoint: {}", damage);
}

void add_show_subcommand(CLI::App& weights) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* show = weights.add_subcommand("show", "List a safetensors file's tensors: names, dtypes, shapes, sizes, metadata");
  show->add_option("file", options->path, "A .safetensors file (or an .i2vckpt checkpoint, which is one)")->required();
  show->add_flag("--stats", options->stats, "Also read every tensor and print its mean, std, min, max and non-finite count");
  show->add_option("--metadata", options->metadata_key, "Print only this metadata value, whole (e.g. a checkpoint's state)");
  show->footer(
      "Tensors are listed by name, numbers in names ordered as numbers (features.2 before features.10).\n"
      "Without --stats only the header is read (and a checkpoint's checksum verified), so even a large\n"
      "file lists at once. A checkpoint whose checksum fails is listed as DAMAGED and the command exits 1.\n\n"
      "Examples:\n"
      "  i2v weights show vgg11.safetensors\n"
      "  i2v weights show --stats runs/tag/checkpoint-000012000.i2vckpt\n"
      "  i2v weights show --metadata i2v.checkpoint.state runs/tag/checkpoint-000012000.i2vckpt | python3 -m json.tool");
  show->callback([options] { show_weights(*options); });
}

// ---- the group --------------------------------------------------------------------------------------

// ---- init ----------------------------------------------------------------------------------------

void add_init_subcommand(CLI::App& weights) {
  static ModelOptions model;
  static uint64_t seed = 1;
  static std::string output;
  static bool force = false;
  CLI::App* cmd = weights.add_subcommand("init", "Write a model's freshly initialised weights (He/Xavier/Gaussian per layer)");
  model.add(cmd);
  cmd->add_option("--seed", seed, "Seed of the initialisation")->capture_default_str();
  cmd->add_option("-o,--output", output, "The safetensors file to write")->required();
  add_force_flag(cmd, force);
  cmd->footer(
      "Every conv/linear weight as its layer's \"init\" says (He's normal by default), biases 0,\n"
      "BatchNorm scale 1. The model config goes into the file's metadata, so the other tools need\n"
      "only the file. The same seed gives the same bits on every machine.\n\n"
      "Examples:\n"
      "  i2v weights init --model i2v-tag --seed 7 -o i2v-tag-init.safetensors\n"
      "  i2v weights init --model vgg19 --outputs 10 --width 0.25 --input-size 64 -o small.safetensors");
  cmd->callback([] {
    CommandFiles files;
    add_model_input(files, "--model", model.model);
    files.output("-o", output, Existing::needs_force);
    files.check(force);
    const nlohmann::json config = model.config();
    Model built = build_model(config);
    built.initialize(seed);
    save_safetensors(output, Safetensors{built.state_dict(), {{"i2v.model_config", config.dump()}}});
    std::printf("wrote %s: %s, %s parameters, seed %llu\n", output.c_str(), built.name().c_str(),
                format_count(built.parameter_count()).c_str(), static_cast<unsigned long long>(seed));
  });
}

// ---- import-caffe ----------------------------------------------------------------------------------

void add_import_caffe_subcommand(CLI::App& weights) {
  static ModelOptions model;
  static std::string caffemodel, tag_list, output;
  static bool ignore_extra = false, force = false;
  CLI::App* cmd = weights.add_subcommand(
      "import-caffe", "Convert the original Illustration2Vec Caffe models (illust2vec_tag_ver200.caffemodel, ...)");
  cmd->add_option("caffemodel", caffemodel, "The .caffemodel file")->required();
  model.add(cmd);
  cmd->add_option("--tag-list", tag_list, "The release's tag_list.json: names the 1,539 outputs (for i2v tag)");
  cmd->add_option("-o,--output", output, "The safetensors file to write")->required();
  cmd->add_flag("--ignore-extra", ignore_extra, "Skip layers of the file the model does not have");
  add_force_flag(cmd, force);
  cmd->footer(
      "Reads the Caffe file with i2v's own protobuf reader (no Caffe needed) and maps each layer's\n"
      "blobs to <layer>.weight and <layer>.bias of the model. The file records the model config, the\n"
      "release's preprocessing (224x224, BGR, minus the mean (164.76, 167.48, 181.14), values 0..255)\n"
      "and, with --tag-list, the output names, so the other tools need only the file.\n\n"
      "Examples:\n"
      "  i2v weights import-caffe illust2vec_tag_ver200.caffemodel --model i2v-tag --tag-list tag_list.json -o i2v-tag.safetensors\n"
      "  i2v weights import-caffe illust2vec_ver200.caffemodel --model i2v-feature -o i2v-feature.safetensors\n"
      "  i2v tag picture.jpg --weights i2v-tag.safetensors");
  cmd->callback([] {
    CommandFiles files;
    files.input("caffemodel", caffemodel).input("--tag-list", tag_list);
    add_model_input(files, "--model", model.model);
    files.output("-o", output, Existing::needs_force);
    files.check(force);
    const nlohmann::json config = model.config();
    Model built = build_model(config);
    std::map<std::string, Shape> expected;
    for (const auto& [name, tensor] : built.state_dict()) expected[name] = tensor.shape();
    CaffeImportOptions options;
    options.ignore_extra_layers = ignore_extra;
    built.load_state_dict(caffe_named_tensors(load_caffe_model(caffemodel), expected, options));
    Safetensors file{built.state_dict(),
                     {{"i2v.model_config", config.dump()},
                      {"i2v.preprocess", Preprocess::i2v().to_json().dump()},
                      {"i2v.target", "multi_label"},
                      {"i2v.source", caffemodel}}};
    if (!tag_list.empty()) {
      const std::vector<ReleaseTag> tags = load_release_tag_list(tag_list);
      const Shape output_shape = built.summary(1).back().output_shape;
      I2V_CHECK(int64_t(tags.size()) == output_shape.back(), "{} names {} tags; model {} has {} outputs", tag_list,
                tags.size(), built.name(), output_shape.back());
      nlohmann::json outputs = nlohmann::json::array();
      for (const ReleaseTag& tag : tags)
        outputs.push_back({{"index", tag.index}, {"name", tag.name}, {"category", tag.category}});
      file.metadata["i2v.outputs"] = outputs.dump();
    }
    save_safetensors(output, file);
    std::printf("wrote %s: %s from %s, %s parameters\n", output.c_str(), built.name().c_str(), caffemodel.c_str(),
                format_count(built.parameter_count()).c_str());
  });
}

// ---- convert ----------------------------------------------------------------------------------------

struct ConvertOptions {
  std::string input, output, dtype;
};

void convert_weights(const ConvertOptions& options) {
  const DType target = options.dtype == "bf16" ? DType::bf16 : DType::f32;
  std::error_code error;
  I2V_CHECK(!std::filesystem::equivalent(options.input, options.output, error),
            "{} is the input file: write the converted weights to another file", options.output);
  const SafetensorsFile file(options.input);
  I2V_CHECK(!has_checkpoint_checksum(file),
            "{} is a training checkpoint (optimizer state, a checksum over its bytes); convert the weights a run "
            "exports (final.safetensors, best.safetensors) instead",
            options.input);
  Safetensors converted{{}, file.metadata()};
  int changed = 0, kept = 0;
  uint64_t bytes_before = 0, bytes_after = 0;
  for (const SafetensorsEntry& entry : file.entries()) {
    const Tensor tensor = file.read(entry);
    // Integer tensors (BatchNorm's num_batches_tracked, ...) are counts: they keep their dtype.
    const bool floating = is_floating(tensor.dtype());
    converted.tensors[entry.name] = floating ? tensor.cast(target) : tensor;
    const char* target_name = target == DType::bf16 ? "BF16" : "F32";
    if (floating && entry.dtype != target_name)
      ++changed;
    else
      ++kept;
    bytes_before += entry.end - entry.begin;
    bytes_after += converted.tensors[entry.name].nbytes();
  }
  save_safetensors(options.output, converted);
  std::printf("wrote %s: %zu tensors, %d converted to %s, %d kept as they were; %s of tensor data (was %s)\n",
              options.output.c_str(), file.entries().size(), changed, dtype_name(target), kept,
              format_bytes(double(bytes_after)).c_str(), format_bytes(double(bytes_before)).c_str());
}

void add_convert_subcommand(CLI::App& weights) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* cmd = weights.add_subcommand("convert", "Write a safetensors file's floating-point tensors as bf16 (or f32)");
  cmd->add_option("file", options->input, "The .safetensors file to read")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", options->output, "The safetensors file to write (not the input)")->required();
  cmd->add_option("--dtype", options->dtype, "What the floating-point tensors become")
      ->required()
      ->check(CLI::IsMember({"bf16", "f32"}));
  cmd->footer(
      "Every F32, F64, F16 and BF16 tensor is written as --dtype: to bf16 rounded to nearest, ties to\n"
      "even (as the GPU's cvt.rn.bf16.f32; NaN becomes the quiet NaN 0x7fff, values past the largest\n"
      "bf16 become infinity; F64 rounds once), to f32 widened exactly from bf16 and f16 (F64 rounds\n"
      "to nearest). Integer tensors and the metadata are kept. A bf16 file is half the size; a model\n"
      "that loads it widens the weights to its f32 parameters, so bf16 -> f32 restores what the bf16\n"
      "file holds, not the original f32.\n"
      "Checkpoints are refused (their checksum covers every byte).\n\n"
      "Examples:\n"
      "  i2v weights convert i2v-tag.safetensors -o i2v-tag-bf16.safetensors --dtype bf16\n"
      "  i2v weights convert released-bf16.safetensors -o released-f32.safetensors --dtype f32");
  cmd->callback([options] { convert_weights(*options); });
}

void add_weights_command(CLI::App& app) {
  CLI::App* weights = app.add_subcommand("weights", "Inspect, create and convert weight files in safetensors format");
  weights->require_subcommand(1);
  weights->footer("Run `i2v weights SUBCOMMAND --help` for its options and examples.");
  add_show_subcommand(*weights);
  add_init_subcommand(*weights);
  add_import_caffe_subcommand(*weights);
  add_convert_subcommand(*weights);
}

const bool registered = register_command("weights", add_weights_command);

}  // namespace
}  // namespace i2v::app
