#include "train/training_config_fields.h"

#include "base/error.h"
#include "data/metadata.h"
#include "data/shards.h"
#include "data/split.h"
#include "kernels/precision.h"
#include "train/svm.h"
#include "train/transfer.h"

namespace i2v {
namespace {

using nlohmann::json;

const ConfigSection<TopLevelFields>& top_level_fields() {
  static const ConfigSection<TopLevelFields> fields = {
      {"run", nullptr, &TopLevelFields::loop, &TrainerOptions::run_directory},
      {"seed", 1, &TopLevelFields::seed},
      {"device", "string", "cpu",
       [](const json& value, TopLevelFields& top) { top.loop.device = Device::parse(value.get<std::string>()); }},
      {"precision", "string", "tf32",
       [](const json& value, TopLevelFields& top) { top.loop.precision = parse_precision(value.get<std::string>()); }},
      {"model", json::object(), &TopLevelFields::model},
      {"init", json::object(), &TopLevelFields::init},
      {"data", json::object(), &TopLevelFields::data},
      {"loss", json::object(), &TopLevelFields::loss},
      {"optimizer", json::object(), &TopLevelFields::optimizer},
      {"schedule", json::object(), &TopLevelFields::schedule},
      {"distributed", json::object(), &TopLevelFields::distributed},
      {"epochs", 10, &TopLevelFields::loop, &TrainerOptions::epochs, ConfigRange{0}},
      {"max_steps", 0, &TopLevelFields::loop, &TrainerOptions::max_steps, ConfigRange{0}},
      {"validate_every_steps", 0, &TopLevelFields::loop, &TrainerOptions::validate_every_steps, ConfigRange{0}},
      {"checkpoint_every_steps", 0, &TopLevelFields::loop, &TrainerOptions::checkpoint_every_steps, ConfigRange{0}},
      {"keep_checkpoints", 3, &TopLevelFields::loop, &TrainerOptions::keep_checkpoints, ConfigRange{1}},
      {"log_every_steps", 10, &TopLevelFields::loop, &TrainerOptions::log_every_steps, ConfigRange{0}},
      {"on_nonfinite", "string", "stop",
       [](const json& value, TopLevelFields& top) {
         const std::string text = value.get<std::string>();
         I2V_CHECK(text == "stop" || text == "skip", "config field on_nonfinite: \"stop\" or \"skip\", got \"{}\"",
                   text);
         top.loop.skip_nonfinite = text == "skip";
       }},
      // Read by others: "about" is a description for people, "model_config" what i2v train
      // writes into the run's config.json (the model it resolved), "transfer" i2v transfer's.
      {"about", "any", nullptr, nullptr},
      {"model_config", "object", nullptr, nullptr},
      {"transfer", "object", nullptr, nullptr},
  };
  return fields;
}

const ConfigSection<ModelFields>& model_fields() {
  static const ConfigSection<ModelFields> fields = {
      {"name", "i2v-tag", &ModelFields::name},
      {"config", nullptr, &ModelFields::name},  // a model config file: read after "name", so it wins
      {"width", 1.0, &ModelFields::zoo, &ZooOptions::width, ConfigRange{1e-3}},
      {"gcn_features", 0, &ModelFields::zoo, &ZooOptions::gcn_features, ConfigRange{0}},
      {"gcn_average_scores", true, &ModelFields::zoo, &ZooOptions::gcn_average_scores},
      {"input_size", nullptr, &ModelFields::input_size, ConfigRange{1}},
  };
  return fields;
}

const ConfigSection<InitFields>& init_fields() {
  static const ConfigSection<InitFields> fields = {
      {"weights", nullptr, &InitFields::weights},
      {"restart", json::array(), &InitFields::restart},
      {"strict", false, &InitFields::strict},
  };
  return fields;
}

// "data.augment": what only the training pictures get. The size, channel order and
// normalisation are the model's and stay those of "data.preprocess".
const ConfigSection<Preprocess>& augment_fields() {
  static const ConfigSection<Preprocess> fields =
      Preprocess::config_fields().only({"crop", "min_area", "hflip", "resize", "resize_to"});
  return fields;
}

const ConfigSection<DataFields>& data_fields() {
  static const ConfigSection<DataFields> fields = {
      {"metadata", nullptr, &DataFields::dump, &DanbooruSource::metadata},
      {"images", nullptr, &DataFields::dump, &DanbooruSource::images},
      {"shards", "array", json::array(),  // after "metadata": the shards join its files
       [](const json& value, DataFields& data) {
         for (const std::string& shard : shard_files(value.get<std::vector<std::string>>()))
           data.dump.metadata.push_back(shard);
       }},
      {"layout", "string", "auto",
       [](const json& value, DataFields& data) { data.dump.layout = parse_image_layout(value.get<std::string>()); }},
      {"vocab", nullptr, &DataFields::vocab},
      {"folders", nullptr, &DataFields::folder, &ImageFolderSource::root},
      {"classes", nullptr, &DataFields::folder, &ImageFolderSource::classes},
      {"auxiliary", json::object(), &DataFields::auxiliary},
      {"split_fractions", "string", "0.8,0.1,0.1",
       [](const json& value, DataFields& data) {
         data.dump.split.fractions = data.folder.fractions = parse_split_fractions(value.get<std::string>());
       }},
      {"split_seed", "integer", 0,
       [](const json& value, DataFields& data) {
         data.dump.split.salt = data.folder.split_seed = value.get<uint64_t>();
       }},
      // A published split instead of the hash (dumps only): id ranges modulo N, or files of ids.
      {"split_modulo", "string", "",
       [](const json& value, DataFields& data) {
         if (value.get<std::string>().empty()) return;
         I2V_CHECK(data.dump.split.listed.empty(), "give data.split_modulo or data.split_files, not both");
         data.dump.split = split_rule_by_modulo(value.get<std::string>());
       }},
      {"split_files", "object", json::object(),
       [](const json& value, DataFields& data) {
         if (value.empty()) return;
         I2V_CHECK(data.dump.split.modulus == 0, "give data.split_modulo or data.split_files, not both");
         std::array<std::string, 3> files;
         for (const auto& [name, file] : value.items()) {
           I2V_CHECK(file.is_string(), "data.split_files.{}: a file name", name);
           files[size_t(parse_split(name))] = file.get<std::string>();
         }
         data.dump.split = split_rule_by_files(files);
       }},
      {"preprocess", "object", json::object(),
       [](const json& value, DataFields& data) { data.preprocess = Preprocess::from_json(value, "data.preprocess"); }},
      {"augment", "object", json::object(),  // after "preprocess": it changes a copy of it
       [](const json& value, DataFields& data) {
         data.augmented = data.preprocess;
         augment_fields().read(value, "data.augment", data.augmented);
         data.augmented.check();
       }},
      {"cache", false, &DataFields::cache},
      {"batch_size", 32, &DataFields::loader, &LoaderOptions::batch_size, ConfigRange{1}},
      {"workers", 2, &DataFields::loader, &LoaderOptions::workers, ConfigRange{0}},
      {"drop_last", false, &DataFields::loader, &LoaderOptions::drop_last},
      {"shuffle_buffer", 1000, &DataFields::loader, &LoaderOptions::shuffle_buffer, ConfigRange{1}},
  };
  return fields;
}

// One entry of "data.auxiliary" (data/auxiliary_features.h).
struct AuxiliaryFields {
  AuxiliarySource source;
  std::string missing;
};

const ConfigSection<AuxiliaryFields>& auxiliary_fields() {
  static const ConfigSection<AuxiliaryFields> fields = {
      {"features", nullptr, &AuxiliaryFields::source, &AuxiliarySource::features},
      {"ids", nullptr, &AuxiliaryFields::source, &AuxiliarySource::ids},
      {"missing", "error", &AuxiliaryFields::missing},
  };
  return fields;
}

const ConfigSection<LossFields>& loss_fields() {
  static const ConfigSection<LossFields> fields = {
      {"type", nullptr, &LossFields::type},
      {"reduction", nullptr, &LossFields::reduction},
      {"pos_weight", "number, list or string", nullptr,
       [](const json& value, LossFields& loss) { loss.pos_weight = value; }},
  };
  return fields;
}

const ConfigSection<OptimizerFields>& optimizer_fields() {
  static const ConfigSection<OptimizerFields> fields = {
      {"momentum", 0.9, &OptimizerFields::sgd, &SgdOptions::momentum, ConfigRange{0, 1}},
      {"weight_decay", 5e-4, &OptimizerFields::sgd, &SgdOptions::weight_decay, ConfigRange{0}},
      {"clip_norm", 0.0, &OptimizerFields::sgd, &SgdOptions::clip_norm, ConfigRange{0}},
      {"layers", "list of rules", json::array(), [](const json& value, OptimizerFields& o) { o.layers = value; }},
  };
  return fields;
}

const ConfigSection<DistributedFields>& distributed_fields() {
  static const ConfigSection<DistributedFields> fields = {
      {"deterministic", false, &DistributedFields::reducer, &ReducerOptions::deterministic},
      {"bucket_mb", "number", 25,
       [](const json& value, DistributedFields& d) {
         const double mb = value.get<double>();
         I2V_CHECK(mb > 0 && mb <= 4096, "config field distributed.bucket_mb: from 0 to 4096 (MiB), got {}", mb);
         d.reducer.bucket_bytes = mb * double(1 << 20);
       }},
      {"lr_scaling", "string", "none",
       [](const json& value, DistributedFields& d) {
         const std::string text = value.get<std::string>();
         I2V_CHECK(text == "none" || text == "linear", "config field distributed.lr_scaling: \"none\" or \"linear\", got \"{}\"",
                   text);
         d.linear_lr_scaling = text == "linear";
       }},
      {"sync_batch_norm", false, &DistributedFields::sync_batch_norm},
      {"timeout_s", 1800.0, &DistributedFields::timeout_seconds, ConfigRange{1}},
  };
  return fields;
}

}  // namespace

TrainingFields read_training_fields(const json& config) {
  I2V_CHECK(config.is_object(), "a training config is a JSON object");
  TrainingFields fields{};
  top_level_fields().read(config, "", fields.top);
  I2V_CHECK(!fields.top.loop.run_directory.empty(),
            "config field run: the run directory (checkpoints, logs, weights) is missing");
  fields.data = read_data_fields(fields.top.data);
  model_fields().read(fields.top.model, "model", fields.model);
  init_fields().read(fields.top.init, "init", fields.init);
  loss_fields().read(fields.top.loss, "loss", fields.loss);
  optimizer_fields().read(fields.top.optimizer, "optimizer", fields.optimizer);
  fields.schedule = LrSchedule::from_json(fields.top.schedule);
  distributed_fields().read(fields.top.distributed, "distributed", fields.distributed);
  fields.top.loop.reducer = fields.distributed.reducer;
  fields.top.loop.linear_lr_scaling = fields.distributed.linear_lr_scaling;
  fields.top.loop.sync_batch_norm = fields.distributed.sync_batch_norm;
  return fields;
}

DataFields read_data_fields(const json& data) {
  DataFields fields{};
  data_fields().read(data, "data", fields);
  return fields;
}

AuxiliarySource read_auxiliary_source(const json& entry, const std::string& where) {
  AuxiliaryFields fields{};
  auxiliary_fields().read(entry, where, fields);
  I2V_CHECK(!fields.source.features.empty() && !fields.source.ids.empty(),
            "config field {}: give \"features\" ([posts, D] .npy) and \"ids\" ([posts] .npy of post ids)", where);
  I2V_CHECK(fields.missing == "error" || fields.missing == "zeros",
            "config field {}.missing: \"error\" or \"zeros\", got \"{}\"", where, fields.missing);
  fields.source.missing_as_zeros = fields.missing == "zeros";
  return fields.source;
}

std::map<std::string, std::vector<ConfigFieldInfo>> training_config_fields() {
  return {{"", top_level_fields().fields()},
          {"model", model_fields().fields()},
          {"init", init_fields().fields()},
          {"data", data_fields().fields()},
          {"data.auxiliary.NAME", auxiliary_fields().fields()},
          {"data.preprocess", Preprocess::config_fields().fields()},
          {"data.augment", augment_fields().fields()},
          {"loss", loss_fields().fields()},
          {"optimizer", optimizer_fields().fields()},
          {"optimizer.layers[]", layer_rule_fields()},
          {"schedule", LrSchedule::config_fields().fields()},
          {"distributed", distributed_fields().fields()},
          {"transfer", transfer_fields()},
          {"transfer.svm", SvmGrid::config_fields().fields()}};
}

}  // namespace i2v
