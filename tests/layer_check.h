// The two checks every layer passes (tests/*layer*_test.cpp):
//
//   check_gradients       backward() against central differences of forward(), in double
//                         precision on the cpu reference (Caffe's GradientChecker, in double);
//   check_devices_agree   forward() and backward() on cpu and on a GPU-like device (sim, cuda)
//                         from the same parameters, inputs and output gradient, with every new
//                         tensor poisoned (NaN) so a kernel that writes nothing cannot pass.
// and the same two for a loss (nn/loss.h): check_loss_gradients, check_loss_devices_agree.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/loss.h"

namespace i2v::test {

struct GradientCheckOptions {
  double step = 1e-6;        // central-difference step
  double tolerance = 1e-6;   // on |analytic - numeric| / max(|analytic|, |numeric|, 1)
  // A point where the left and right one-sided slopes differ by more than this (relative, as
  // above) sits on a kink — ReLU at 0, a tie in max-pool — and is skipped.
  double kink_tolerance = 1e-4;
  int max_points_per_tensor = 64;  // elements checked per tensor, drawn at random
  Mode mode = Mode::train;
  // Inputs that are not differentiated (labels, masks): their indices.
  std::vector<size_t> constant_inputs;
  // Called before every forward (e.g. to reseed dropout so every pass draws the same mask).
  std::function<void(Layer&)> before_forward;
};

// Converts `layer` to f64 on the cpu, fills its parameters with N(0, 1) values, draws
// L = sum(forward(inputs) * R) for a random R, and compares backward(R) with central
// differences for every input and parameter. Failures are reported with gtest.
void check_gradients(Layer& layer, const std::vector<Tensor>& inputs, std::mt19937_64& rng,
                     const GradientCheckOptions& options = {});

// Allowed |a - b| ≤ absolute + relative · max(|a|, |b|) between the cpu and the device.
struct Tolerance {
  double relative = 1e-5;
  double absolute = 1e-6;
};
// Keyed by tensor name: "output", "grad_input0", "grad_weight", "buffer_running_mean", ...
// Names without an entry use the default Tolerance.
using Tolerances = std::map<std::string, Tolerance>;

// Builds the layer twice, gives both the same random N(0, 1) parameters (f32), runs forward
// (in `mode`) and, in train mode, backward with the same random output gradient on cpu and on
// `device`, and compares outputs, input gradients, parameter gradients and buffers.
void check_devices_agree(const std::function<std::unique_ptr<Layer>()>& make_layer,
                         const std::vector<Tensor>& inputs, Device device, std::mt19937_64& rng,
                         const Tolerances& tolerances = {}, Mode mode = Mode::train,
                         const std::vector<size_t>& constant_inputs = {});

// Converts the floating inputs to f64 on the cpu (integer targets keep their dtype), draws
// L = forward(inputs) and compares backward() with central differences of L with respect to the
// logits (inputs[0]); the other inputs are data. Failures are reported with gtest.
void check_loss_gradients(Loss& loss, const std::vector<Tensor>& inputs, std::mt19937_64& rng,
                          const GradientCheckOptions& options = {});

// Builds the loss twice, runs forward and backward on the cpu and on `device` (f32) and
// compares the tensors named "loss" and "grad_logits".
void check_loss_devices_agree(const std::function<std::unique_ptr<Loss>()>& make_loss,
                              const std::vector<Tensor>& inputs, Device device, const Tolerances& tolerances = {});

// Runs `run` (which computes on a GPU-like device and returns what it computed) twice, the sim
// device in its shuffled schedule with two different seeds, and expects the same bits both
// times: a GPU reduction that adds in thread order (float atomics) differs between the runs.
void check_bitwise_reproducible(const std::function<std::vector<float>()>& run, std::mt19937_64& rng);

// ‖actual − reference‖₂ / ‖reference‖₂ over all elements, in double: the error of a whole tensor
// against a reference (a float64 one, or another device's), which a few large elements cannot
// hide and a few tiny ones cannot inflate as an element-wise relative error would. 0 when the
// two are equal, infinity when only the reference is zero, NaN when either holds a NaN. Any
// devices and floating dtypes; the shapes must match.
double normwise_relative_error(const Tensor& actual, const Tensor& reference);
// Expects normwise_relative_error(actual, reference) ≤ bound, reporting `name`, the error and
// the bound with gtest (a NaN fails); returns the error (infinity when a tensor is missing or
// the shapes differ).
double expect_normwise_close(const std::string& name, const Tensor& actual, const Tensor& reference, double bound);

// Fills every parameter of `layer` with N(0, std) values (on the layer's device and dtype).
void randomize_parameters(Layer& layer, std::mt19937_64& rng, double std = 1.0);

}  // namespace i2v::test
