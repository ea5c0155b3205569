#include "bench/train_step.h"

#include <algorithm>

#include "base/random.h"

namespace i2v::bench {

StepInputs random_step_inputs(const Model& model, int64_t batch, int64_t outputs, Device device) {
  Rng rng(2);
  Shape shape = model.input_shape();
  shape.insert(shape.begin(), batch);
  std::vector<float> images(size_t(shape_numel(shape)));
  for (float& v : images) v = float(rng.normal());
  std::vector<float> targets(size_t(batch * outputs));
  for (float& t : targets) t = rng.uniform() < 0.05 ? 1.0f : 0.0f;
  return {Tensor::from_vector(images, shape, device), Tensor::from_vector(targets, {batch, outputs}, device)};
}

double train_step(Model& model, Loss& loss, Sgd& sgd, const StepInputs& inputs, const StepMarks& marks) {
  const auto mark = [&](StepPart part) {
    if (marks.part) marks.part(part);
  };
  Model::LayerObserver observe = nullptr;
  if (marks.forward) observe = [&](const std::string& layer, const Tensor&) { marks.forward(layer); };

  model.zero_grad();
  mark(StepPart::zero_grad);
  const Tensor logits = model.forward(inputs.images, {}, Mode::train, "", observe);
  const double value = loss.forward({logits, inputs.targets}).item<float>({0});
  const Tensor grad = loss.backward();
  loss.clear_saved();
  mark(StepPart::loss);
  model.backward(grad, false, marks.backward);
  sgd.step(kStepLearningRate);
  mark(StepPart::sgd);
  return value;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace i2v::bench
