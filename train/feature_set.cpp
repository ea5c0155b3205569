#include "train/feature_set.h"

#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "nn/npy.h"
#include "base/atomic_file.h"
#include "base/file.h"
#include "base/relative_path.h"
#include "train/inference.h"

namespace i2v {

namespace {

std::string stem_of(const std::string& path) {
  const std::string suffix = ".npy";
  I2V_CHECK(path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0,
            "{}: a features file is named *.npy", path);
  return path.substr(0, path.size() - suffix.size());
}

}  // namespace

std::string feature_labels_path(const std::string& path) { return stem_of(path) + ".labels.npy"; }
std::string feature_description_path(const std::string& path) { return stem_of(path) + ".json"; }

FeatureSet FeatureSet::rows_of_split(const std::string& split) const {
  if (split == "all") return *this;
  FeatureSet out;
  out.classes = classes;
  out.about = about;
  out.features.dims = features.dims;
  for (int64_t i = 0; i < features.rows; ++i) {
    if (splits[size_t(i)] != split) continue;
    out.features.values.insert(out.features.values.end(), features.row(i), features.row(i) + features.dims);
    out.labels.push_back(labels[size_t(i)]);
    out.ids.push_back(ids[size_t(i)]);
    out.paths.push_back(paths[size_t(i)]);
    out.splits.push_back(split);
    ++out.features.rows;
  }
  I2V_CHECK(out.features.rows > 0, "no features of the {} split (the rows' splits: train, val, test, or none for a "
            "list of pictures; \"all\" takes every row)", split);
  return out;
}

std::vector<int64_t> FeatureSet::class_counts() const {
  std::vector<int64_t> counts(classes.size(), 0);
  for (int64_t label : labels)
    if (label >= 0) ++counts[size_t(label)];
  return counts;
}

FeatureSet extract_features(Model& model, std::shared_ptr<const Dataset> dataset, Device device,
                            const std::string& layer, int64_t batch_size, int workers,
                            const std::string& progress_label) {
  const bool labeled = dataset->target_kind() == TargetKind::class_index;
  FeatureSet set;
  if (labeled) set.classes = dataset->class_names();
  const std::string until = resolve_layer_name(model, layer);
  set.about = {{"layer", until}, {"model", model.name()}};
  run_model(model, dataset, device, until, batch_size, workers,
            [&](const Batch& batch, const Tensor& activations) {
              const int64_t dims = activations.numel() / activations.size(0);
              I2V_CHECK(set.features.dims == 0 || set.features.dims == dims, "features: layer {} changed size", until);
              set.features.dims = dims;
              const std::vector<float> values = activations.cast(DType::f32).to_vector<float>();
              set.features.values.insert(set.features.values.end(), values.begin(), values.end());
              set.features.rows += batch.size();
              const std::vector<int64_t> labels =
                  labeled ? batch.targets.to_vector<int64_t>() : std::vector<int64_t>(size_t(batch.size()), -1);
              set.labels.insert(set.labels.end(), labels.begin(), labels.end());
              set.ids.insert(set.ids.end(), batch.ids.begin(), batch.ids.end());
              for (int64_t i = 0; i < batch.size(); ++i) {
                set.paths.push_back(batch.paths[size_t(i)]);
                set.splits.push_back(split_name(dataset->item(batch.indices[size_t(i)]).split));
              }
            },
            progress_label);
  I2V_CHECK(set.features.rows > 0, "features: no picture could be read");
  return set;
}

void write_feature_set(const std::string& path, const FeatureSet& set) {
  const int64_t n = set.features.rows;
  I2V_CHECK(int64_t(set.labels.size()) == n && int64_t(set.ids.size()) == n && int64_t(set.paths.size()) == n &&
                int64_t(set.splits.size()) == n,
            "{}: a feature set needs a label, an id, a path and a split per row", path);
  write_npy(path, NpyType::f32, {n, set.features.dims}, set.features.values.data());
  write_npy(feature_labels_path(path), NpyType::i64, {n}, set.labels.data());
  nlohmann::json description = set.about;
  description["classes"] = set.classes;
  description["rows"] = n;
  description["dims"] = set.features.dims;
  // Picture paths relative to the description's folder (base/relative_path.h).
  const std::string folder = std::filesystem::path(path).parent_path().string();
  nlohmann::json pictures = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i)
    pictures.push_back({{"id", set.ids[size_t(i)]},
                        {"path", path_relative_to(set.paths[size_t(i)], folder)},
                        {"split", set.splits[size_t(i)]}});
  description["pictures"] = std::move(pictures);
  write_file_atomically(feature_description_path(path), description.dump(1) + "\n");
}

FeatureSet read_feature_set(const std::string& path) {
  FeatureSet set;
  const NpyArray features = read_npy(path);
  I2V_CHECK(features.type == NpyType::f32 && features.shape.size() == 2,
            "{}: features are float32 [N, D], got {} {}", path, npy_descr(features.type), shape_str(features.shape));
  set.features.rows = features.shape[0];
  set.features.dims = features.shape[1];
  set.features.values.resize(features.bytes.size() / sizeof(float));
  std::memcpy(set.features.values.data(), features.bytes.data(), features.bytes.size());

  const std::string labels_path = feature_labels_path(path);
  const NpyArray labels = read_npy(labels_path);
  I2V_CHECK(labels.type == NpyType::i64 && labels.shape == Shape{set.features.rows},
            "{}: labels are int64 [{}] (one per row of {}), got {} {}", labels_path, set.features.rows, path,
            npy_descr(labels.type), shape_str(labels.shape));
  set.labels.resize(size_t(set.features.rows));
  std::memcpy(set.labels.data(), labels.bytes.data(), labels.bytes.size());

  const std::string description_path = feature_description_path(path);
  try {
    nlohmann::json description = nlohmann::json::parse(read_file(description_path));
    set.classes = description.at("classes").get<std::vector<std::string>>();
    const nlohmann::json& pictures = description.at("pictures");
    I2V_CHECK(int64_t(pictures.size()) == set.features.rows, "{}: {} pictures for {} rows of features",
              description_path, pictures.size(), set.features.rows);
    for (const nlohmann::json& picture : pictures) {
      set.ids.push_back(picture.value("id", int64_t(set.ids.size())));
      set.paths.push_back(path_resolved_from(picture.at("path").get<std::string>(),
                                             std::filesystem::path(path).parent_path().string()));
      set.splits.push_back(picture.value("split", std::string()));
    }
    for (const char* key : {"classes", "pictures", "rows", "dims"}) description.erase(key);
    set.about = std::move(description);
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: not a feature description ({})", description_path, e.what());
  }
  for (int64_t label : set.labels)
    I2V_CHECK(label >= -1 && label < int64_t(set.classes.size()), "{}: label {} outside the {} classes", labels_path,
              label, set.classes.size());
  return set;
}

}  // namespace i2v
