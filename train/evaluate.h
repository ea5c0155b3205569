// Running a model over a whole split, in eval mode, to score it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/loss.h"
#include "nn/model.h"
#include "data/data_loader.h"

namespace i2v {

struct Evaluation {
  TargetKind kind = TargetKind::multi_label;
  int64_t samples = 0;
  int64_t classes = 0;
  double loss = 0;                    // mean over batches, weighted by batch size
  std::vector<float> scores;          // [samples × classes]: probabilities (sigmoid or softmax)
  std::vector<float> labels;          // multi-label: [samples × classes] 0/1
  std::vector<int64_t> class_labels;  // single-label: [samples]
  std::vector<int64_t> ids;           // post ids, in the order of the rows

  // The number the training loop maximises: mAP (multi-label) or top-1 accuracy (single-label).
  double headline() const;
  std::string headline_name() const;
};

// Runs every batch `loader` gives for one epoch (make it with shuffle off) through `model` on
// `device` in eval mode. `progress_label` names the progress line ("" for none).
Evaluation evaluate(Model& model, Loss& loss, DataLoader& loader, Device device,
                    const std::string& progress_label = "");

}  // namespace i2v
