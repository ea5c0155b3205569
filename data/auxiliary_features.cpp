#include "data/auxiliary_features.h"

#include <algorithm>

#include "base/error.h"
#include "nn/npy.h"

namespace i2v {

AuxiliaryFeatures::AuxiliaryFeatures(std::string name, int64_t dim, std::vector<float> values,
                                     const std::vector<int64_t>& ids, bool missing_as_zeros)
    : name_(std::move(name)), dim_(dim), values_(std::move(values)), missing_as_zeros_(missing_as_zeros) {
  I2V_CHECK(dim_ > 0 && int64_t(values_.size()) == dim_ * int64_t(ids.size()),
            "auxiliary input '{}': {} values for {} ids of {} features", name_, values_.size(), ids.size(), dim_);
  for (size_t r = 0; r < ids.size(); ++r)
    I2V_CHECK(row_of_.emplace(ids[r], int64_t(r)).second, "auxiliary input '{}': post id {} has two rows ({} and {})",
              name_, ids[r], row_of_.at(ids[r]), r);
}

std::shared_ptr<const AuxiliaryFeatures> AuxiliaryFeatures::load(const std::string& name,
                                                                 const AuxiliarySource& source) {
  const Tensor features = read_npy_tensor(source.features), ids = read_npy_tensor(source.ids);
  I2V_CHECK(features.dtype() == DType::f32 || features.dtype() == DType::f64,
            "{}: the features of auxiliary input '{}' must be float32 or float64, not {}", source.features, name,
            dtype_name(features.dtype()));
  I2V_CHECK(ids.dtype() == DType::i64 || ids.dtype() == DType::i32, "{}: post ids must be int64 or int32, not {}",
            source.ids, dtype_name(ids.dtype()));
  I2V_CHECK(features.dim() == 2 && features.size(1) > 0, "{}: features of shape {}, expected [posts, features]",
            source.features, shape_str(features.shape()));
  I2V_CHECK(ids.dim() == 1 && ids.size(0) == features.size(0), "{}: {} ids for the {} rows of {}", source.ids,
            ids.dim() == 1 ? ids.size(0) : ids.numel(), features.size(0), source.features);
  try {
    return std::make_shared<const AuxiliaryFeatures>(name, features.size(1),
                                                     features.cast(DType::f32).to_vector<float>(),
                                                     ids.cast(DType::i64).to_vector<int64_t>(), source.missing_as_zeros);
  } catch (const Error& e) {
    I2V_THROW("{}: {}", source.ids, e.message());
  }
}

void AuxiliaryFeatures::fill(int64_t id, float* out) const {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) {
    std::fill(out, out + dim_, 0.0f);
    return;
  }
  std::copy_n(values_.begin() + it->second * dim_, dim_, out);
}

}  // namespace i2v
