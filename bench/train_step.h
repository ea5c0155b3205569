// One training step as train/trainer.cpp runs it per batch, less the data loading and the
// gradient norm: zero the gradients, forward in training mode, BCE-with-logits (mean), backward,
// SGD with momentum 0.9 and weight decay 5e-4 at learning rate 0.01. train_step_bench and
// gpu_bench time it; bench/train_step_vs_torch.py runs the same step in PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/loss.h"
#include "nn/model.h"
#include "train/sgd.h"

namespace i2v::bench {

constexpr double kStepLearningRate = 0.01;
const SgdOptions kStepSgd{0.9, 5e-4};

struct StepInputs {
  Tensor images;   // [batch, 3, size, size], N(0, 1)
  Tensor targets;  // [batch, outputs], 1 with probability 0.05
};

// Fixed random inputs (seed 2) for `model`, on `device`.
StepInputs random_step_inputs(const Model& model, int64_t batch, int64_t outputs, Device device);

// Told when each part of a step is done, in order: part(zero_grad), forward(layer) for each
// layer, part(loss), backward(layer) for each layer (its weight gradients complete), part(sgd).
// Any may be empty. train_step_bench --breakdown times the parts by them.
enum class StepPart { zero_grad, loss, sgd };
struct StepMarks {
  std::function<void(StepPart part)> part;
  std::function<void(const std::string& layer)> forward, backward;
};

// One step; returns the loss (read back from the device: the step's work up to the loss has run,
// SGD's may still be running on a GPU).
double train_step(Model& model, Loss& loss, Sgd& sgd, const StepInputs& inputs, const StepMarks& marks = {});

double median(std::vector<double> values);

}  // namespace i2v::bench
