// Features of pictures — a model's activations at one layer, one row per picture — with the
// pictures' classes, files and splits: what `i2v feature` writes and `i2v svm` reads.
//
// On disk, for features.npy:
//   features.npy          float32 [N, D]  row i: picture i's activations, flattened (C order)
//   features.labels.npy   int64 [N]       the picture's class (an index into "classes"); -1: none
//   features.json         {"layer": "classifier.4", "model": "vgg19", "weights": "W.safetensors",
//                          "classes": ["ambulance", ...], "rows": N, "dims": D,
//                          "pictures": [{"id": 7, "path": "...", "split": "train"}, ...]}
// Image folders give classes and labels; pictures given as a list and Danbooru-style dumps
// (multi-label) give none: labels -1, "classes" empty. "id" is the post id (dumps) or the
// position in the sorted file list; "split" is "" for a list; "path" is relative to the .json's
// folder (base/relative_path.h). numpy reads the files with np.load and json.load.
// All three are written atomically, the .json last.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/model.h"
#include "data/dataset.h"

namespace i2v {

// rows × dims floats, row-major.
struct FeatureMatrix {
  std::vector<float> values;
  int64_t rows = 0;
  int64_t dims = 0;
  const float* row(int64_t i) const { return values.data() + i * dims; }
};

struct FeatureSet {
  FeatureMatrix features;
  std::vector<int64_t> labels;       // per row: class index, -1 without one
  std::vector<std::string> classes;  // class names
  std::vector<int64_t> ids;          // per row: the post id, or the position in the file list
  std::vector<std::string> paths;    // per row: the picture
  std::vector<std::string> splits;   // per row: "train", "val", "test", or "" (no split)
  nlohmann::json about = nlohmann::json::object();  // where the features come from: layer, model, weights

  // The rows of one split ("all": every row); throws when there are none.
  FeatureSet rows_of_split(const std::string& split) const;
  // Pictures per class, over the rows with a label.
  std::vector<int64_t> class_counts() const;
};

// Runs `model` (eval mode) over every picture of `dataset` up to `layer` (a name for
// resolve_layer_name) and keeps the activations, flattened per picture, with each picture's class
// (single-label datasets; else -1), id, path and split. Pictures that cannot be decoded are
// skipped and reported on stderr (they have no row).
FeatureSet extract_features(Model& model, std::shared_ptr<const Dataset> dataset, Device device,
                            const std::string& layer, int64_t batch_size, int workers,
                            const std::string& progress_label = "");

// `path` names the .npy of the features; the labels and the description go beside it.
void write_feature_set(const std::string& path, const FeatureSet& set);
FeatureSet read_feature_set(const std::string& path);
// "features.npy" -> "features.labels.npy", "features.json".
std::string feature_labels_path(const std::string& path);
std::string feature_description_path(const std::string& path);

}  // namespace i2v
