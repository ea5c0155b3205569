#include "train/inference.h"

#include <cstdio>

#include "base/error.h"
#include "nn/model_config.h"
#include "nn/safetensors.h"
#include "base/progress.h"

namespace i2v {
namespace {

// Sets config["outputs"] from the file's tensor for the first layer the config sizes by
// "outputs" (e.g. torchvision vgg19's classifier.6.weight: [1000, 4096]).
void size_outputs_from_file(nlohmann::json& config, const std::map<std::string, Tensor>& tensors) {
  for (const nlohmann::json& layer : config.value("layers", nlohmann::json::array())) {
    const bool sized_by_outputs = layer.value("out_features", nlohmann::json()) == "outputs" ||
                                  layer.value("out_channels", nlohmann::json()) == "outputs";
    if (!sized_by_outputs) continue;
    auto weight = tensors.find(layer.value("name", std::string()) + ".weight");
    if (weight != tensors.end() && weight->second.dim() >= 1) config["outputs"] = weight->second.size(0);
    return;
  }
}

}  // namespace

std::string resolve_layer_name(const Model& model, const std::string& name) {
  if (model.has_node(name)) return name;
  static const std::map<std::string, std::string> vgg_names = {
      {"fc6", "classifier.1"}, {"fc7", "classifier.4"}, {"fc8", "classifier.6"}};
  auto alias = vgg_names.find(name);
  if (alias != vgg_names.end() && model.has_node(alias->second)) return alias->second;
  std::string layers;
  for (const ModelNode& node : model.nodes()) layers += (layers.empty() ? "" : ", ") + node.name;
  I2V_THROW("model {} has no layer '{}'; its layers: {}", model.name(), name, layers);
}

TrainedModel load_trained_model(const std::string& weights, Device device, const std::string& model_config) {
  ModelChoice choice;
  choice.model = model_config;
  return load_trained_model(weights, device, choice);
}

bool weights_record_model(const std::string& weights) {
  return SafetensorsFile(weights).metadata().count("i2v.model_config") > 0;
}

TrainedModel load_trained_model(const std::string& weights, Device device, const ModelChoice& choice) {
  Safetensors file = load_safetensors(weights);
  if (const std::string bad = describe_non_finite(file.tensors); !bad.empty())
    std::fprintf(stderr, "warning: %s holds non-finite values, which the model will use as they are: %s\n",
                 weights.c_str(), bad.c_str());
  TrainedModel trained;
  trained.metadata = file.metadata;
  auto metadata = [&](const char* key) -> const std::string* {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? nullptr : &it->second;
  };
  try {
    if (const std::string* outputs = metadata("i2v.outputs")) {
      for (const nlohmann::json& entry : nlohmann::json::parse(*outputs))
        trained.outputs.push_back({entry.at("name").get<std::string>(), entry.value("category", std::string())});
    }
    if (const std::string* target = metadata("i2v.target")) trained.multi_label = *target == "multi_label";
    trained.preprocess = metadata("i2v.preprocess") ? Preprocess::from_json(nlohmann::json::parse(*metadata("i2v.preprocess")))
                                                    : Preprocess{};
    nlohmann::json config;
    if (!choice.model.empty()) {
      ZooOptions options = choice.zoo;
      if (options.outputs == 0 && !trained.outputs.empty()) options.outputs = int64_t(trained.outputs.size());
      config = resolve_model_config(choice.model, options);
      if (choice.zoo.outputs == 0 && trained.outputs.empty()) size_outputs_from_file(config, file.tensors);
    } else {
      I2V_CHECK(metadata("i2v.model_config"), "{}: the file does not say which model it holds (no i2v.model_config "
                "metadata, which i2v train, i2v weights init and import-caffe write)", weights);
      config = nlohmann::json::parse(*metadata("i2v.model_config"));
      if (choice.input_size > 0) {
        I2V_CHECK(config.contains("input") && config["input"].size() == 3,
                  "{}: its model config has no [channels, height, width] input to resize", weights);
        config["input"] = {config["input"][0], choice.input_size, choice.input_size};
      }
    }
    trained.model = std::make_unique<Model>(build_model(config));
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: unreadable i2v metadata: {}", weights, e.what());
  }
  trained.model->load_state_dict(file.tensors);
  const std::string note = bf16_widening_note(file.tensors, weights);
  if (!note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
  trained.model->to(device);
  if (!trained.metadata.count("i2v.preprocess") && !trained.model->input_shape().empty())
    trained.preprocess.size = int(trained.model->input_shape().back());
  return trained;
}

void run_model(Model& model, std::shared_ptr<const Dataset> dataset, Device device, const std::string& until,
               int64_t batch_size, int workers, const std::function<void(const Batch&, const Tensor&)>& consume,
               const std::string& progress_label) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.workers = workers;
  DataLoader loader(dataset, options);
  Progress progress(progress_label, dataset->size(), "img");
  int64_t done = 0;
  while (std::optional<Batch> batch = loader.next()) {
    const Tensor activations =
        model.forward(batch->images.to(device), batch->auxiliary_on(device), Mode::eval, until).to(Device::cpu());
    consume(*batch, activations);
    done += batch->size();
    if (!progress_label.empty()) progress.update(done);
  }
  if (!progress_label.empty()) progress.finish();
  const DataReport& report = loader.last_epoch_report();
  if (report.skipped() > 0) std::fputs(report.summary("pictures").c_str(), stderr);
}

}  // namespace i2v
