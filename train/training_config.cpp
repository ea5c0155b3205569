#include "train/training_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/file.h"
#include "base/relative_path.h"
#include "data/metadata.h"
#include "data/split.h"
#include "data/vocabulary.h"
#include "kernels/runtime.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "train/process_group.h"
#include "train/training_config_fields.h"

namespace i2v {
namespace {

using nlohmann::json;

// The pictures and targets of a "data" section.
std::shared_ptr<const DatasetContents> read_contents(const DataFields& data) {
  if (!data.folder.root.empty()) return std::make_shared<const DatasetContents>(read_image_folder(data.folder));
  const bool only_shards = std::all_of(data.dump.metadata.begin(), data.dump.metadata.end(), [](const std::string& file) {
    return std::filesystem::path(file).extension() == ".tar";
  });
  I2V_CHECK(!data.dump.metadata.empty() && (!data.dump.images.empty() || only_shards),
            "config field data: give \"metadata\" and \"images\" (a Danbooru-style dump), \"shards\" (a dump in tar "
            "shards) or \"folders\" (an image folder)");
  Vocabulary vocabulary;
  if (!data.vocab.empty()) {
    vocabulary = Vocabulary::load(data.vocab);
  } else {
    DataReport report;
    vocabulary = build_vocabulary(data.dump.metadata, VocabularyOptions{}, report);
    std::fprintf(stderr, "vocabulary: built in memory, %lld outputs\n", static_cast<long long>(vocabulary.size()));
  }
  return std::make_shared<const DatasetContents>(read_danbooru(data.dump, vocabulary));
}

}  // namespace

std::shared_ptr<const DatasetContents> read_data(const json& data) { return read_contents(read_data_fields(data)); }

Preprocess data_preprocess(const json& data) { return read_data_fields(data).preprocess; }

// "auxiliary": {"caption": {"features": "f.npy", "ids": "ids.npy", "missing": "error"}} (name order).
std::vector<std::shared_ptr<const AuxiliaryFeatures>> read_auxiliary(const json& auxiliary) {
  std::vector<std::shared_ptr<const AuxiliaryFeatures>> all;
  for (const auto& [name, spec] : auxiliary.items()) {
    const AuxiliarySource source = read_auxiliary_source(spec, "data.auxiliary." + name);
    all.push_back(AuxiliaryFeatures::load(name, source));
    std::fprintf(stderr, "auxiliary input %s: %lld posts of %lld features from %s\n", name.c_str(),
                 static_cast<long long>(all.back()->rows()), static_cast<long long>(all.back()->dim()),
                 source.features.c_str());
  }
  return all;
}

namespace {

// loss.pos_weight: one number for every output, a list of one per output, or a .npy file of
// them (float32 [C]).
Tensor read_pos_weight(const json& value, int64_t outputs) {
  Tensor weight;
  if (value.is_number()) {
    weight = Tensor::full({outputs}, value.get<double>());
  } else if (value.is_array()) {
    std::vector<float> values;
    for (const json& v : value) {
      I2V_CHECK(v.is_number(), "config field loss.pos_weight: a list of numbers, got {}", v.dump());
      values.push_back(v.get<float>());
    }
    weight = Tensor::from_vector(values, {int64_t(values.size())});
  } else if (value.is_string()) {
    weight = read_npy_tensor(value.get<std::string>());
  } else {
    I2V_THROW("config field loss.pos_weight: a number, a list of one per output or a .npy file, got {}", value.dump());
  }
  I2V_CHECK(weight.dtype() == DType::f32 && weight.shape() == Shape{outputs},
            "config field loss.pos_weight: {} values of float32 for {} outputs, got {} {}", outputs, outputs,
            dtype_name(weight.dtype()), shape_str(weight.shape()));
  for (float w : weight.to_vector<float>())
    I2V_CHECK(std::isfinite(w) && w > 0, "config field loss.pos_weight: weights must be positive, got {}", w);
  return weight;
}

std::unique_ptr<Loss> make_loss(const LossFields& loss, TargetKind kind, int64_t outputs) {
  const std::string type = loss.type.value_or(kind == TargetKind::multi_label ? "bce_with_logits" : "cross_entropy");
  if (type == "bce_with_logits") {
    I2V_CHECK(kind == TargetKind::multi_label, "loss bce_with_logits needs multi-label data (a dump with tags)");
    const std::string reduction = loss.reduction.value_or("mean");
    const Tensor pos_weight = loss.pos_weight.is_null() ? Tensor() : read_pos_weight(loss.pos_weight, outputs);
    if (reduction == "mean") return std::make_unique<BCEWithLogits>(Reduction::mean, pos_weight);
    if (reduction == "sum") return std::make_unique<BCEWithLogits>(Reduction::sum, pos_weight);
    if (reduction == "batch_mean") return std::make_unique<BCEWithLogits>(Reduction::batch_mean, pos_weight);
    I2V_THROW("config field loss.reduction: mean, sum or batch_mean, got \"{}\"", reduction);
  }
  if (type == "cross_entropy") {
    I2V_CHECK(kind == TargetKind::class_index, "loss cross_entropy needs single-label data (an image folder)");
    I2V_CHECK(loss.pos_weight.is_null() && !loss.reduction,
              "config field loss: cross_entropy is always the mean over the batch and takes no pos_weight");
    return std::make_unique<CrossEntropy>();
  }
  I2V_THROW("config field loss.type: unknown loss '{}' (bce_with_logits or cross_entropy)", type);
}

// The data gives exactly the auxiliary inputs the model reads, with their widths.
void check_auxiliary_inputs(const Model& model, const std::vector<std::shared_ptr<const AuxiliaryFeatures>>& given) {
  std::map<std::string, int64_t> widths;
  for (const auto& features : given) widths[features->name()] = features->dim();
  for (const auto& [name, shape] : model.auxiliary_inputs()) {
    I2V_CHECK(widths.count(name), "model {} reads the auxiliary input '{}': give it in data.auxiliary.{}", model.name(),
              name, name);
    I2V_CHECK(shape == Shape{widths.at(name)}, "model {} reads '{}' of shape {}, data.auxiliary.{} has {} features",
              model.name(), name, shape_str(shape), name, widths.at(name));
    widths.erase(name);
  }
  I2V_CHECK(widths.empty(), "data.auxiliary.{}: model {} has no auxiliary input of that name (a -gcn model reads "
            "\"caption\")", widths.empty() ? "" : widths.begin()->first, model.name());
}

json output_names(const DatasetContents& contents) {
  json outputs = json::array();
  for (size_t i = 0; i < contents.class_names.size(); ++i) {
    json entry = {{"index", i}, {"name", contents.class_names[i]}};
    if (i < contents.class_categories.size()) entry["category"] = tag_category_name(contents.class_categories[i]);
    outputs.push_back(entry);
  }
  return outputs;
}

}  // namespace

void apply_override(json& config, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  I2V_CHECK(equals != std::string::npos && equals > 0, "--set {}: expected PATH=VALUE, e.g. schedule.lr=0.05",
            assignment);
  const std::string path = assignment.substr(0, equals), text = assignment.substr(equals + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {
    value = text;  // a bare word is a string
  }
  json* node = &config;
  size_t begin = 0;
  for (size_t dot = path.find('.'); ; dot = path.find('.', begin)) {
    const std::string key = path.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    I2V_CHECK(!key.empty(), "--set {}: empty field name in the path", assignment);
    I2V_CHECK(node->is_object() || node->is_null(), "--set {}: '{}' is not inside an object", assignment, key);
    node = &(*node)[key];
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  *node = value;
}

void load_initial_weights(Model& model, const std::string& path, const std::vector<std::string>& restart, uint64_t seed,
                          bool strict) {
  Safetensors file = load_safetensors(path);
  if (const std::string bad = describe_non_finite(file.tensors); !bad.empty())
    std::fprintf(stderr, "warning: init.weights %s holds non-finite values (restarted layers get fresh ones): %s\n",
                 path.c_str(), bad.c_str());
  std::set<std::string> restarted(restart.begin(), restart.end());
  for (const std::string& layer : restart)
    I2V_CHECK(model.has_node(layer), "init.restart: model {} has no layer '{}'", model.name(), layer);
  if (strict) {
    std::map<std::string, Tensor> loaded;
    std::map<std::string, Shape> expected;
    for (const auto& [name, tensor] : file.tensors)
      if (!restarted.count(name.substr(0, name.rfind('.')))) loaded[name] = tensor;
    const std::set<std::string> optional = model.optional_buffers();  // a count of 0 when absent
    for (const auto& [name, tensor] : model.state_dict())
      if (!restarted.count(name.substr(0, name.rfind('.'))) && (file.tensors.count(name) || !optional.count(name)))
        expected[name] = tensor.shape();
    check_shapes(loaded, expected, fmt::format("{} (for model {}, restarting {} layers)", path, model.name(), restart.size()));
  }
  std::map<std::string, Tensor> kept;
  const std::map<std::string, Tensor> own = model.state_dict();
  std::vector<std::string> unused, initial;
  for (auto& [name, tensor] : file.tensors) {
    const std::string layer = name.substr(0, name.rfind('.'));
    if (restarted.count(layer)) continue;
    if (own.count(name)) kept[name] = tensor;
    else unused.push_back(name);
  }
  for (const auto& [name, tensor] : own)
    if (!kept.count(name) && !restarted.count(name.substr(0, name.rfind('.')))) initial.push_back(name);
  model.load_state_dict(kept, /*strict=*/false);
  model.initialize_layers(restart, seed);
  auto some = [](const std::vector<std::string>& names) {
    std::string text;
    for (size_t i = 0; i < names.size() && i < 4; ++i) text += (i ? ", " : "") + names[i];
    return names.size() > 4 ? text + ", ..." : text;
  };
  std::fprintf(stderr, "init: %zu tensors from %s", kept.size(), path.c_str());
  if (!restart.empty()) std::fprintf(stderr, "; restarted %zu layers (%s)", restart.size(), some(restart).c_str());
  if (!initial.empty()) std::fprintf(stderr, "; %zu new (%s)", initial.size(), some(initial).c_str());
  if (!unused.empty()) std::fprintf(stderr, "; %zu in the file unused (%s)", unused.size(), some(unused).c_str());
  std::fprintf(stderr, "\n");
  const std::string note = bf16_widening_note(kept, path);
  if (!note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
}

namespace {

// The pictures, split three ways with each split's preprocessing, and the loader's options.
// Returns the options of the evaluation splits (validation, test).
DatasetOptions prepare_data(const TrainingFields& fields, TrainingSetup& setup) {
  const DataFields& data = fields.data;
  setup.contents = read_contents(data);
  if (setup.contents->report.skipped() > 0) std::fputs(setup.contents->report.summary("metadata").c_str(), stderr);
  DatasetOptions eval_options;
  eval_options.preprocess = data.preprocess;
  eval_options.cache = data.cache;
  eval_options.auxiliary = read_auxiliary(data.auxiliary);
  DatasetOptions train_options = eval_options;
  train_options.preprocess = data.augmented;
  setup.train = std::make_shared<const Dataset>(setup.contents, Split::train, train_options);
  if (setup.contents->count(Split::val) > 0)
    setup.validation = std::make_shared<const Dataset>(setup.contents, Split::val, eval_options);
  if (setup.contents->count(Split::test) > 0)
    setup.test = std::make_shared<const Dataset>(setup.contents, Split::test, eval_options);
  setup.loader = data.loader;
  setup.loader.seed = fields.top.seed;
  // A distributed run: this rank's slice of every global batch (data/data_loader.h).
  ProcessGroup& group = ProcessGroup::world();
  group.set_timeout(fields.distributed.timeout_seconds);
  setup.loader.rank = group.rank();
  setup.loader.ranks = group.size();
  return eval_options;
}

// A distributed cuda run: each rank on the GPU of its local rank (before anything is allocated).
void choose_gpu(const TrainingFields& fields) {
  const ProcessGroup& group = ProcessGroup::world();
  if (fields.top.loop.device.type != DeviceType::cuda || !group.distributed()) return;
#if I2V_HAVE_CUDA
  std::string reason;
  const int gpus = cuda::device_count(&reason);
  I2V_CHECK(group.local_rank() < gpus,
            "{}: each rank trains on a GPU of its own, and this machine's local rank {} has none ({} GPUs{}): start "
            "at most {} ranks per machine",
            group.name(), group.local_rank(), gpus, reason.empty() ? "" : ": " + reason, gpus);
  cuda::select_device(group.local_rank());
#endif
}

// The model, sized by the data (outputs, picture size, auxiliary inputs), initialised from the
// seed and then from the "init" weights when there are any, on the run's device.
void prepare_model(const TrainingFields& fields, const DatasetOptions& eval_options, TrainingSetup& setup) {
  ZooOptions zoo = fields.model.zoo;
  zoo.outputs = setup.train->num_classes();
  zoo.input_size = eval_options.preprocess.size;
  for (const auto& features : eval_options.auxiliary)
    if (features->name() == "caption") zoo.caption_features = features->dim();
  const int64_t model_input = fields.model.input_size.value_or(zoo.input_size);
  I2V_CHECK(model_input == zoo.input_size, "model.input_size {} differs from data.preprocess.size {}", model_input,
            zoo.input_size);
  setup.config["model_config"] = resolve_model_config(fields.model.name, zoo);
  setup.model = std::make_unique<Model>(build_model(setup.config["model_config"]));
  check_auxiliary_inputs(*setup.model, eval_options.auxiliary);
  const uint64_t seed = fields.top.seed;
  setup.model->initialize(mix_seed(seed, 1));
  setup.model->seed_random_layers(mix_seed(seed, 2));
  const InitFields& init = fields.init;
  if (!init.weights.empty())
    load_initial_weights(*setup.model, init.weights, init.restart, mix_seed(seed, 3), init.strict);
  setup.model->to(fields.top.loop.device);
}

}  // namespace

TrainingSetup prepare_training(const json& config) {
  const TrainingFields fields = read_training_fields(config);
  TrainingSetup setup;
  setup.config = config;
  const DatasetOptions eval_options = prepare_data(fields, setup);
  choose_gpu(fields);
  prepare_model(fields, eval_options, setup);
  setup.loss = make_loss(fields.loss, setup.train->target_kind(), setup.train->num_classes());
  setup.sgd = std::make_unique<Sgd>(*setup.model, fields.optimizer.sgd,
                                    parse_layer_rates(fields.optimizer.layers, *setup.model));
  setup.schedule = std::make_unique<LrSchedule>(fields.schedule);
  setup.trainer = fields.top.loop;
  // The checkpoints keep the config with its paths relative to their folder, as config.json does.
  setup.trainer.config = config_paths_relative_to(setup.config, setup.trainer.run_directory + "/checkpoints");
  setup.trainer.weights_metadata = model_metadata(setup);
  std::filesystem::create_directories(setup.trainer.run_directory);
  return setup;
}

std::map<std::string, std::string> model_metadata(const TrainingSetup& setup) {
  // The evaluation preprocessing: the training split's has the augmentation.
  const Preprocess preprocess = setup.validation ? setup.validation->preprocess()
                                                 : data_preprocess(setup.config.value("data", json::object()));
  return {{"i2v.model_config", setup.config.at("model_config").dump()},
          {"i2v.preprocess", preprocess.to_json().dump()},
          {"i2v.outputs", output_names(*setup.contents).dump()},
          {"i2v.target", setup.train->target_kind() == TargetKind::multi_label ? "multi_label" : "class_index"}};
}

namespace {

// Every leaf of a config by its dotted path ("data.batch_size").
void flatten(const json& value, const std::string& path, std::map<std::string, json>& leaves) {
  if (value.is_object() && !value.empty()) {
    for (const auto& item : value.items()) flatten(item.value(), path.empty() ? item.key() : path + "." + item.key(), leaves);
  } else {
    leaves[path] = value;
  }
}

// A resumed run continues its checkpoint's model, optimizer state and place in the data; a config
// that changed any of them would silently mix two runs. Only how long it runs, how it reports,
// where it runs, and how many ranks share each global batch (the batch size per rank with them:
// a position counts samples) may change.
void check_resumable(const json& before, const json& now) {
  const std::vector<std::string> free = {"epochs", "max_steps", "validate_every_steps", "checkpoint_every_steps",
                                         "keep_checkpoints", "log_every_steps", "on_nonfinite", "device", "precision",
                                         "data.workers", "data.batch_size", "distributed", "run", "about"};
  std::map<std::string, json> old_leaves, new_leaves;
  flatten(before, "", old_leaves);
  flatten(now, "", new_leaves);
  std::vector<std::string> changed;
  auto note = [&](const std::string& path) {
    const std::string top = path.substr(0, path.find('.'));
    if (std::find(free.begin(), free.end(), path) == free.end() && std::find(free.begin(), free.end(), top) == free.end() &&
        std::find(changed.begin(), changed.end(), path) == changed.end())
      changed.push_back(path);
  };
  for (const auto& [path, value] : old_leaves)
    if (!new_leaves.count(path) || new_leaves.at(path) != value) note(path);
  for (const auto& [path, value] : new_leaves)
    if (!old_leaves.count(path)) note(path);
  if (changed.empty()) return;
  std::string details;
  for (size_t i = 0; i < changed.size() && i < 6; ++i) {
    const std::string& path = changed[i];
    details += fmt::format("\n  {}: {} -> {}", path, old_leaves.count(path) ? old_leaves.at(path).dump() : "(absent)",
                           new_leaves.count(path) ? new_leaves.at(path).dump() : "(absent)");
  }
  if (changed.size() > 6) details += fmt::format("\n  ... and {} more", changed.size() - 6);
  I2V_THROW("--resume with a config that differs from the run's config.json in what the checkpoint depends on:{}\n"
            "Resume with the same config (only epochs, max_steps, logging, checkpointing, the device, the batch size and "
            "the distributed options may change), "
            "or train into another run directory.", details);
}

// Every path of `config` made absolute and physical (links resolved), so that two spellings of a
// file compare equal.
json config_paths_absolute(json config) {
  for_each_config_path(config, [](json& path, const std::string&) {
    std::error_code error;
    path = std::filesystem::weakly_canonical(std::filesystem::absolute(path.get<std::string>()), error).string();
  });
  return config;
}

}  // namespace

void for_each_config_path(json& config, const std::function<void(json& path, const std::string& field)>& visit) {
  if (!config.is_object()) return;
  auto at = [&](json& section, const std::string& key, const std::string& field) {
    if (!section.is_object() || !section.contains(key)) return;
    json& value = section[key];
    if (value.is_string()) {
      visit(value, field);
    } else if (value.is_array()) {
      for (json& item : value)
        if (item.is_string()) visit(item, field);
    }
  };
  at(config, "run", "run");
  if (config.contains("model") && config["model"].is_object()) {
    json& model = config["model"];
    at(model, "config", "model.config");
    if (model.contains("name") && model["name"].is_string() && names_model_file(model["name"].get<std::string>()))
      at(model, "name", "model.name");
  }
  if (config.contains("init")) at(config["init"], "weights", "init.weights");
  if (!config.contains("data") || !config["data"].is_object()) return;
  json& data = config["data"];
  for (const char* key : {"metadata", "images", "vocab", "folders"}) at(data, key, std::string("data.") + key);
  if (data.contains("auxiliary") && data["auxiliary"].is_object())
    for (auto& [name, entry] : data["auxiliary"].items())
      for (const char* key : {"features", "ids"}) at(entry, key, "data.auxiliary." + name + "." + key);
}

json config_paths_relative_to(json config, const std::string& folder) {
  for_each_config_path(config, [&](json& path, const std::string&) { path = path_relative_to(path.get<std::string>(), folder); });
  return config;
}

json config_paths_resolved_from(json config, const std::string& folder) {
  for_each_config_path(config, [&](json& path, const std::string&) { path = path_resolved_from(path.get<std::string>(), folder); });
  return config;
}

json read_run_config(const std::string& run_directory) {
  const std::string path = run_directory + "/config.json";
  try {
    return config_paths_resolved_from(json::parse(read_file(path)), run_directory);
  } catch (const json::exception& e) {
    I2V_THROW("{}: not a run's JSON config: {}", path, e.what());
  }
}

TrainResult run_training(TrainingSetup& setup, bool resume) {
  const std::string& run = setup.trainer.run_directory;
  const std::string config_path = run + "/config.json";
  if (resume && std::filesystem::exists(config_path))
    check_resumable(config_paths_absolute(read_run_config(run)), config_paths_absolute(setup.config));
  // Relative to the run directory: the run can be used (eval --run) from any current directory.
  if (ProcessGroup::world().writes())
    write_file_atomically(config_path, config_paths_relative_to(setup.config, run).dump(2) + "\n");
  auto train_dataset = setup.train;
  auto validation_dataset = setup.validation;
  const LoaderOptions loader = setup.loader;
  std::function<std::unique_ptr<DataLoader>()> make_validation_loader;
  if (validation_dataset)
    make_validation_loader = [validation_dataset, loader]() {
      LoaderOptions options = loader;
      options.shuffle = false;
      options.rank = 0;  // rank 0 validates on the whole split
      options.ranks = 1;
      return std::make_unique<DataLoader>(validation_dataset, options);
    };
  Trainer trainer(
      *setup.model, *setup.loss, *setup.sgd, *setup.schedule,
      [train_dataset, loader](LoaderPosition start) { return std::make_unique<DataLoader>(train_dataset, loader, start); },
      make_validation_loader, setup.trainer);
  return trainer.run(resume);
}

}  // namespace i2v
