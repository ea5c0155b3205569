// Synchronised batch norm for a data-parallel run (`"distributed": {"sync_batch_norm": true}`):
// every BatchNorm2d of the model normalises with the statistics of the whole global batch, the
// ranks' slices together (nn/layers/batch_norm2d.h says what is exchanged and why). The exchange
// goes through host memory on MPI: two small gathers per layer and step ([1 + 2C] and [2C + 1]
// doubles per rank), against the gradient buckets' megabytes.
//
// Usage (train/trainer.cpp):
//   RankBatchNormSync sync(ProcessGroup::world());
//   sync.attach(model);            // every batch norm layer now exchanges through `sync`
//   sync.begin_step(weight);       // before the backward pass, as GradientReducer::begin_step
#pragma once

#include "nn/layers/batch_norm2d.h"
#include "nn/model.h"
#include "train/process_group.h"

namespace i2v {

class RankBatchNormSync final : public BatchNormSync {
 public:
  explicit RankBatchNormSync(ProcessGroup& group) : group_(group) {}

  // Every batch norm layer of `model` exchanges through this; returns how many there are.
  int attach(Model& model);
  // This rank's weight in the global gradient (its share of the global batch's samples for a
  // loss averaged over them, 1 for a summed one), the same factor its gradients are summed with.
  void begin_step(double weight) { weight_ = weight; }

  std::vector<double> gather(const std::vector<double>& values, const std::string& what) override;
  double gradient_weight() const override { return weight_; }

 private:
  ProcessGroup& group_;
  double weight_ = 1.0;
};

}  // namespace i2v
