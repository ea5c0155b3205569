// Per-picture feature vectors read from .npy files and keyed by post id: the auxiliary model
// inputs (nn/model.h) a dataset gives beside its pictures — the GCN paper's caption feature
// v_cap, the pooled output of any captioning model, one D-vector per post.
//
// Two arrays, as numpy writes them: `features` [P, D] (float32 or float64) and `ids` [P] (int64
// or int32), row r being post ids[r]'s vector (image folders: the picture's position in the
// sorted file list, Dataset::id()). An id given twice is an error. A post without a row is an
// error when the dataset is opened, unless `missing_as_zeros` (then its vector is zeros).
//
// In a training config (train/training_config.h):
//   "data": {"auxiliary": {"caption": {"features": "captions.npy", "ids": "caption_ids.npy",
//                                       "missing": "error" | "zeros"}}}
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace i2v {

struct AuxiliarySource {
  std::string features;  // [P, D] .npy
  std::string ids;       // [P] .npy
  bool missing_as_zeros = false;
};

class AuxiliaryFeatures {
 public:
  // Reads and checks both files; `name` is the model input they feed ("caption").
  static std::shared_ptr<const AuxiliaryFeatures> load(const std::string& name, const AuxiliarySource& source);
  // From memory (tests): `values` holds ids.size() rows of `dim` floats.
  AuxiliaryFeatures(std::string name, int64_t dim, std::vector<float> values, const std::vector<int64_t>& ids,
                    bool missing_as_zeros = false);

  const std::string& name() const { return name_; }
  int64_t dim() const { return dim_; }
  int64_t rows() const { return int64_t(row_of_.size()); }
  bool missing_as_zeros() const { return missing_as_zeros_; }
  bool has(int64_t id) const { return row_of_.count(id) > 0; }
  // Writes post `id`'s vector (dim() floats) into `out`: its row, or zeros when it has none.
  void fill(int64_t id, float* out) const;

 private:
  std::string name_;
  int64_t dim_;
  std::vector<float> values_;
  std::unordered_map<int64_t, int64_t> row_of_;
  bool missing_as_zeros_;
};

}  // namespace i2v
