#include "train/evaluate.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "train/metrics.h"
#include "base/progress.h"

namespace i2v {

double Evaluation::headline() const {
  if (kind == TargetKind::multi_label) return mean_average_precision(scores, labels, samples, classes).map;
  return top_k_accuracy(scores, class_labels, samples, classes, 1).overall;
}

std::string Evaluation::headline_name() const { return kind == TargetKind::multi_label ? "mAP" : "top-1"; }

namespace {

// Probabilities from logits, on the host: sigmoid per output, or softmax per row.
void append_probabilities(const std::vector<float>& logits, int64_t classes, TargetKind kind, std::vector<float>& out) {
  if (kind == TargetKind::multi_label) {
    for (float x : logits) out.push_back(float(1.0 / (1.0 + std::exp(-double(x)))));
    return;
  }
  for (size_t row = 0; row < logits.size(); row += size_t(classes)) {
    const float top = *std::max_element(logits.begin() + long(row), logits.begin() + long(row + size_t(classes)));
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(double(logits[row + size_t(c)] - top));
    for (int64_t c = 0; c < classes; ++c) out.push_back(float(std::exp(double(logits[row + size_t(c)] - top)) / sum));
  }
}

}  // namespace

Evaluation evaluate(Model& model, Loss& loss, DataLoader& loader, Device device, const std::string& progress_label) {
  const Dataset& dataset = loader.dataset();
  Evaluation result;
  result.kind = dataset.target_kind();
  result.classes = dataset.num_classes();
  Progress progress(progress_label, dataset.size(), "img");
  double loss_sum = 0;
  while (std::optional<Batch> batch = loader.next()) {
    const Tensor logits = model.forward(batch->images.to(device), batch->auxiliary_on(device), Mode::eval);
    I2V_CHECK(logits.dim() == 2 && logits.size(1) == result.classes,
              "evaluation: the model gives {} outputs per image, the dataset has {} classes",
              shape_str(logits.shape()), result.classes);
    const double batch_loss = double(loss.forward({logits, batch->targets.to(device)}).cast(DType::f64).item<double>({0}));
    loss.clear_saved();
    loss_sum += batch_loss * double(batch->size());
    append_probabilities(logits.to_vector<float>(), result.classes, result.kind, result.scores);
    if (result.kind == TargetKind::multi_label) {
      const std::vector<float> labels = batch->targets.to_vector<float>();
      result.labels.insert(result.labels.end(), labels.begin(), labels.end());
    } else {
      const std::vector<int64_t> labels = batch->targets.to_vector<int64_t>();
      result.class_labels.insert(result.class_labels.end(), labels.begin(), labels.end());
    }
    result.ids.insert(result.ids.end(), batch->ids.begin(), batch->ids.end());
    result.samples += batch->size();
    if (!progress_label.empty()) progress.update(result.samples);
  }
  I2V_CHECK(result.samples > 0, "evaluation: no readable sample in the split");
  result.loss = loss_sum / double(result.samples);
  if (!progress_label.empty()) progress.finish();
  return result;
}

}  // namespace i2v
