#include "train/training_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "base/error.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "base/config_fields.h"
#include "base/atomic_file.h"
#include "data/metadata.h"
#include "data/split.h"
#include "data/vocabulary.h"

namespace i2v {
namespace {

using nlohmann::json;

// Reads a field, naming the config path in errors.
template <typename T>
T field(const json& object, const char* key, const std::string& where, T fallback) {
  if (!object.contains(key)) return fallback;
  try {
    return object.at(key).get<T>();
  } catch (const json::exception& e) {
    I2V_THROW("config field {}.{}: {} (got {})", where, key, e.what(), object.at(key).dump());
  }
}

}  // namespace

std::shared_ptr<const DatasetContents> read_data(const json& data) {
  const SplitFractions fractions = parse_split_fractions(field<std::string>(data, "split_fractions", "data", "0.8,0.1,0.1"));
  const uint64_t split_seed = field<uint64_t>(data, "split_seed", "data", 0);
  if (data.contains("folders")) {
    return std::make_shared<const DatasetContents>(
        read_image_folder({field<std::string>(data, "folders", "data", ""), fractions, split_seed,
                           field<std::vector<std::string>>(data, "classes", "data", {})}));
  }
  I2V_CHECK(data.contains("metadata") && data.contains("images"),
            "config field data: give \"metadata\" and \"images\" (a Danbooru-style dump) or \"folders\" (an image folder)");
  DanbooruSource source;
  source.metadata = field<std::vector<std::string>>(data, "metadata", "data", {});
  source.images = field<std::string>(data, "images", "data", "");
  source.layout = parse_image_layout(field<std::string>(data, "layout", "data", "auto"));
  source.fractions = fractions;
  source.split_salt = split_seed;
  Vocabulary vocabulary;
  if (data.contains("vocab")) {
    vocabulary = Vocabulary::load(field<std::string>(data, "vocab", "data", ""));
  } else {
    DataReport report;
    vocabulary = build_vocabulary(source.metadata, VocabularyOptions{}, report);
    std::fprintf(stderr, "vocabulary: built in memory, %lld outputs\n", static_cast<long long>(vocabulary.size()));
  }
  return std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
}

Preprocess data_preprocess(const json& data) {
  return Preprocess::from_json(field<json>(data, "preprocess", "data", json::object()));
}

// "auxiliary": {"caption": {"features": "f.npy", "ids": "ids.npy", "missing": "error"}} (name order).
std::vector<std::shared_ptr<const AuxiliaryFeatures>> read_auxiliary(const json& auxiliary) {
  std::vector<std::shared_ptr<const AuxiliaryFeatures>> all;
  for (const auto& [name, spec] : auxiliary.items()) {
    const std::string where = "data.auxiliary." + name;
    check_known_fields(spec, where, {"features", "ids", "missing"});
    AuxiliarySource source;
    source.features = field<std::string>(spec, "features", where, "");
    source.ids = field<std::string>(spec, "ids", where, "");
    I2V_CHECK(!source.features.empty() && !source.ids.empty(),
              "config field {}: give \"features\" ([posts, D] .npy) and \"ids\" ([posts] .npy of post ids)", where);
    const std::string missing = field<std::string>(spec, "missing", where, "error");
    I2V_CHECK(missing == "error" || missing == "zeros", "config field {}.missing: \"error\" or \"zeros\", got \"{}\"",
              where, missing);
    source.missing_as_zeros = missing == "zeros";
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
  if (value.is_number()) weight = Tensor::full({outputs}, value.get<double>());
  else if (value.is_array()) weight = Tensor::from_vector(value.get<std::vector<float>>(), {int64_t(value.size())});
  else if (value.is_string()) weight = read_npy_tensor(value.get<std::string>());
  else I2V_THROW("config field loss.pos_weight: a number, a list of one per output or a .npy file, got {}", value.dump());
  I2V_CHECK(weight.dtype() == DType::f32 && weight.shape() == Shape{outputs},
            "config field loss.pos_weight: {} values of float32 for {} outputs, got {} {}", outputs, outputs,
            dtype_name(weight.dtype()), shape_str(weight.shape()));
  for (float w : weight.to_vector<float>())
    I2V_CHECK(std::isfinite(w) && w > 0, "config field loss.pos_weight: weights must be positive, got {}", w);
  return weight;
}

std::unique_ptr<Loss> make_loss(const json& config, TargetKind kind, int64_t outputs) {
  const std::string fallback = kind == TargetKind::multi_label ? "bce_with_logits" : "cross_entropy";
  const std::string type = field<std::string>(config, "type", "loss", fallback);
  if (type == "bce_with_logits") {
    I2V_CHECK(kind == TargetKind::multi_label, "loss bce_with_logits needs multi-label data (a dump with tags)");
    const std::string reduction = field<std::string>(config, "reduction", "loss", "mean");
    const Tensor pos_weight = config.contains("pos_weight") ? read_pos_weight(config.at("pos_weight"), outputs) : Tensor();
    if (reduction == "mean") return std::make_unique<BCEWithLogits>(Reduction::mean, pos_weight);
    if (reduction == "sum") return std::make_unique<BCEWithLogits>(Reduction::sum, pos_weight);
    if (reduction == "batch_mean") return std::make_unique<BCEWithLogits>(Reduction::batch_mean, pos_weight);
    I2V_THROW("config field loss.reduction: mean, sum or batch_mean, got \"{}\"", reduction);
  }
  if (type == "cross_entropy") {
    I2V_CHECK(kind == TargetKind::class_index, "loss cross_entropy needs single-label data (an image folder)");
    I2V_CHECK(!config.contains("pos_weight") && !config.contains("reduction"),
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
  std::set<std::string> restarted(restart.begin(), restart.end());
  for (const std::string& layer : restart)
    I2V_CHECK(model.has_node(layer), "init.restart: model {} has no layer '{}'", model.name(), layer);
  if (strict) {
    std::map<std::string, Tensor> loaded;
    std::map<std::string, Shape> expected;
    for (const auto& [name, tensor] : file.tensors)
      if (!restarted.count(name.substr(0, name.rfind('.')))) loaded[name] = tensor;
    for (const auto& [name, tensor] : model.state_dict())
      if (!restarted.count(name.substr(0, name.rfind('.')))) expected[name] = tensor.shape();
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
}

TrainingSetup prepare_training(const json& config) {
  I2V_CHECK(config.is_object(), "a training config is a JSON object");
  // "about": a description for people; "model_config": what i2v train writes into the run's
  // config.json (the resolved model); "transfer": read by i2v transfer.
  check_known_fields(config, "", {"about", "run", "seed", "device", "model", "init", "data", "loss", "optimizer", "schedule",
                                  "epochs", "max_steps", "validate_every_steps", "checkpoint_every_steps",
                                  "keep_checkpoints", "log_every_steps", "on_nonfinite", "model_config", "transfer"});
  check_known_fields(config.value("data", json::object()), "data",
                     {"metadata", "images", "layout", "vocab", "folders", "classes", "split_fractions", "split_seed",
                      "preprocess", "augment", "cache", "auxiliary", "batch_size", "workers", "drop_last"});
  check_known_fields(config.value("model", json::object()), "model",
                     {"name", "config", "width", "input_size", "gcn_features", "gcn_average_scores"});
  check_known_fields(config.value("init", json::object()), "init", {"weights", "restart", "strict"});
  check_known_fields(config.value("loss", json::object()), "loss", {"type", "reduction", "pos_weight"});
  check_known_fields(config.value("optimizer", json::object()), "optimizer",
                     {"momentum", "weight_decay", "clip_norm", "layers"});
  TrainingSetup setup;
  setup.config = config;
  const uint64_t seed = field<uint64_t>(config, "seed", "", 1);
  const json data = field<json>(config, "data", "", json::object());

  // Data.
  setup.contents = read_data(data);
  if (setup.contents->report.skipped() > 0) std::fputs(setup.contents->report.summary("metadata").c_str(), stderr);
  DatasetOptions eval_options;
  eval_options.preprocess = data_preprocess(data);
  eval_options.cache = field<bool>(data, "cache", "data", false);
  eval_options.auxiliary = read_auxiliary(field<json>(data, "auxiliary", "data", json::object()));
  DatasetOptions train_options = eval_options;
  json augmented = eval_options.preprocess.to_json();
  const json augment = field<json>(data, "augment", "data", json::object());
  // What only training pictures get; the size, channel order and normalisation stay the model's.
  check_known_fields(augment, "data.augment", {"crop", "min_area", "hflip", "resize", "resize_to"});
  for (const auto& [key, value] : augment.items()) augmented[key] = value;
  train_options.preprocess = Preprocess::from_json(augmented);
  setup.train = std::make_shared<const Dataset>(setup.contents, Split::train, train_options);
  if (setup.contents->count(Split::val) > 0)
    setup.validation = std::make_shared<const Dataset>(setup.contents, Split::val, eval_options);
  if (setup.contents->count(Split::test) > 0)
    setup.test = std::make_shared<const Dataset>(setup.contents, Split::test, eval_options);
  setup.loader.batch_size = field<int64_t>(data, "batch_size", "data", 32);
  setup.loader.workers = field<int>(data, "workers", "data", 2);
  setup.loader.seed = seed;
  setup.loader.drop_last = field<bool>(data, "drop_last", "data", false);

  // Model.
  const json model_json = field<json>(config, "model", "", json::object());
  ZooOptions zoo;
  zoo.outputs = setup.train->num_classes();
  zoo.input_size = eval_options.preprocess.size;
  zoo.width = field<double>(model_json, "width", "model", 1.0);
  zoo.gcn_features = field<int64_t>(model_json, "gcn_features", "model", 0);
  zoo.gcn_average_scores = field<bool>(model_json, "gcn_average_scores", "model", true);
  for (const auto& features : eval_options.auxiliary)
    if (features->name() == "caption") zoo.caption_features = features->dim();
  const std::string model_name = model_json.contains("config") ? field<std::string>(model_json, "config", "model", "")
                                                               : field<std::string>(model_json, "name", "model", "i2v-tag");
  const int64_t model_input = field<int64_t>(model_json, "input_size", "model", zoo.input_size);
  I2V_CHECK(model_input == zoo.input_size, "model.input_size {} differs from data.preprocess.size {}", model_input,
            zoo.input_size);
  setup.config["model_config"] = resolve_model_config(model_name, zoo);
  setup.model = std::make_unique<Model>(build_model(setup.config["model_config"]));
  check_auxiliary_inputs(*setup.model, eval_options.auxiliary);
  setup.model->initialize(mix_seed(seed, 1));
  setup.model->seed_random_layers(mix_seed(seed, 2));
  const json init = field<json>(config, "init", "", json::object());
  if (init.contains("weights"))
    load_initial_weights(*setup.model, field<std::string>(init, "weights", "init", ""),
                         field<std::vector<std::string>>(init, "restart", "init", {}), mix_seed(seed, 3),
                         field<bool>(init, "strict", "init", false));
  setup.trainer.device = Device::parse(field<std::string>(config, "device", "", "cpu"));
  setup.model->to(setup.trainer.device);

  // Loss, optimizer, schedule.
  setup.loss = make_loss(field<json>(config, "loss", "", json::object()), setup.train->target_kind(),
                         setup.train->num_classes());
  const json optimizer = field<json>(config, "optimizer", "", json::object());
  SgdOptions sgd;
  sgd.momentum = field<double>(optimizer, "momentum", "optimizer", 0.9);
  sgd.weight_decay = field<double>(optimizer, "weight_decay", "optimizer", 5e-4);
  sgd.clip_norm = field<double>(optimizer, "clip_norm", "optimizer", 0.0);
  const auto rates = optimizer.contains("layers") ? parse_layer_rates(optimizer.at("layers"), *setup.model)
                                                  : std::map<std::string, LayerRates>{};
  setup.sgd = std::make_unique<Sgd>(*setup.model, sgd, rates);
  setup.schedule = std::make_unique<LrSchedule>(LrSchedule::from_json(field<json>(config, "schedule", "", json::object())));

  // The loop.
  TrainerOptions& t = setup.trainer;
  t.run_directory = field<std::string>(config, "run", "", "");
  I2V_CHECK(!t.run_directory.empty(), "config field run: the run directory (checkpoints, logs, weights) is missing");
  t.epochs = field<int64_t>(config, "epochs", "", 10);
  t.max_steps = field<int64_t>(config, "max_steps", "", 0);
  t.validate_every_steps = field<int64_t>(config, "validate_every_steps", "", 0);
  t.checkpoint_every_steps = field<int64_t>(config, "checkpoint_every_steps", "", 0);
  t.keep_checkpoints = field<int>(config, "keep_checkpoints", "", 3);
  t.log_every_steps = field<int64_t>(config, "log_every_steps", "", 10);
  const std::string nonfinite = field<std::string>(config, "on_nonfinite", "", "stop");
  I2V_CHECK(nonfinite == "stop" || nonfinite == "skip", "config field on_nonfinite: \"stop\" or \"skip\", got \"{}\"",
            nonfinite);
  t.skip_nonfinite = nonfinite == "skip";
  t.config = setup.config;
  t.weights_metadata = model_metadata(setup);
  std::filesystem::create_directories(t.run_directory);
  return setup;
}

std::map<std::string, std::string> model_metadata(const TrainingSetup& setup) {
  return {{"i2v.model_config", setup.config.at("model_config").dump()},
          {"i2v.preprocess", setup.validation ? setup.validation->preprocess().to_json().dump()
                                              : Preprocess::from_json(setup.config.value("data", json::object())
                                                                          .value("preprocess", json::object()))
                                                    .to_json()
                                                    .dump()},
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
// that changed any of them would silently mix two runs. Only how long it runs, how it reports
// and where it runs may change.
void check_resumable(const json& before, const json& now) {
  const std::vector<std::string> free = {"epochs", "max_steps", "validate_every_steps", "checkpoint_every_steps",
                                         "keep_checkpoints", "log_every_steps", "on_nonfinite", "device",
                                         "data.workers", "run", "about"};
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
            "Resume with the same config (only epochs, max_steps, logging, checkpointing and the device may change), "
            "or train into another run directory.", details);
}

}  // namespace

TrainResult run_training(TrainingSetup& setup, bool resume) {
  const std::string config_path = setup.trainer.run_directory + "/config.json";
  if (resume && std::filesystem::exists(config_path)) check_resumable(json::parse(read_file(config_path)), setup.config);
  write_file_atomically(config_path, setup.config.dump(2) + "\n");
  auto train_dataset = setup.train;
  auto validation_dataset = setup.validation;
  const LoaderOptions loader = setup.loader;
  Trainer trainer(
      *setup.model, *setup.loss, *setup.sgd, *setup.schedule,
      [train_dataset, loader](LoaderPosition start) { return std::make_unique<DataLoader>(train_dataset, loader, start); },
      [validation_dataset, loader]() -> std::unique_ptr<DataLoader> {
        if (!validation_dataset) return nullptr;
        LoaderOptions options = loader;
        options.shuffle = false;
        return std::make_unique<DataLoader>(validation_dataset, options);
      },
      setup.trainer);
  return trainer.run(resume);
}

}  // namespace i2v
