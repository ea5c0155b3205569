#include "train/sync_batch_norm.h"

namespace i2v {

int RankBatchNormSync::attach(Model& model) {
  int layers = 0;
  for (const ModelNode& node : model.nodes())
    if (auto* batch_norm = dynamic_cast<BatchNorm2d*>(node.layer.get())) {
      batch_norm->synchronise(this);
      ++layers;
    }
  return layers;
}

std::vector<double> RankBatchNormSync::gather(const std::vector<double>& values, const std::string& what) {
  return group_.gather(values, what);
}

}  // namespace i2v
