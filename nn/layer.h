// A layer: one operation of a network, with its forward and backward passes and its parameters.
//
// Contract shared by every layer (nn/layers/*):
//   - forward(inputs, mode) checks the input shapes (output_shape() does the same checks) and
//     returns a new output tensor on the inputs' device. In Mode::train it keeps what backward()
//     needs (Caffe keeps it in the layer too), activations through KeptActivation (bf16 at bf16
//     precision: nn/layers/kept_activation.h); in Mode::eval it keeps nothing.
//   - backward(grad_output, need_input_grad) may only follow a train-mode forward. It returns
//     one tensor per input: dL/d(input), or an undefined Tensor where need_input_grad is false
//     (the first layer of a network needs none). It ADDS dL/d(parameter) into the grad of
//     every parameter with requires_grad (the optimizer zeroes them); a frozen parameter costs
//     no gradient work.
//   - Tensors are float32 on every device, or float64 on the cpu device (the double-precision
//     reference the gradient checker differentiates numerically); a layer whose bf16() is passed
//     also takes bfloat16 (and returns it), one whose bf16() is rounded takes it too.
//   - Parameters use PyTorch's layouts (conv weight [out, in, kh, kw], linear [out, in]) and
//     the names "weight" and "bias"; buffers are state that is not trained (BatchNorm's
//     running statistics).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/tensor.h"

namespace i2v {

enum class Mode { train, eval };

struct Parameter {
  Tensor value;
  Tensor grad;  // same shape, device and dtype as value; accumulated by backward()
  bool requires_grad = true;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // The layer's kind as written in configs: "conv2d", "relu", ...
  virtual std::string kind() const = 0;
  // One line for model summaries, e.g. "conv2d 3->64 k3 s1 p1".
  virtual std::string describe() const { return kind(); }

  // The output shape for these input shapes; throws i2v::Error with the reason when they do not fit.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // Floating-point operations of one forward pass (a multiply-add counts 2).
  virtual int64_t forward_flops(const std::vector<Shape>& /*inputs*/) const { return 0; }

  virtual Tensor forward(const std::vector<Tensor>& inputs, Mode mode) = 0;
  virtual std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) = 0;

  // Trained tensors, by name ("weight", "bias").
  virtual std::vector<std::pair<std::string, Parameter*>> parameters() { return {}; }
  // Untrained state saved with the weights (BatchNorm's "running_mean", "running_var").
  virtual std::vector<std::pair<std::string, Tensor*>> buffers() { return {}; }
  // The buffers a state dict may leave out: a strict load without them sets them to zero, as
  // PyTorch's BatchNorm does with "num_batches_tracked" (which many converters do not write).
  virtual std::vector<std::string> optional_buffers() const { return {}; }
  // Releases what forward kept for backward.
  virtual void clear_saved() {}
  // How the layer's activations pass at bf16 precision (kernels/precision.h), where tensors go
  // from layer to layer in bf16 as under PyTorch's bf16 autocast. Model::forward and backward
  // apply it; a layer called on its own sees only what it is handed.
  enum class Bf16 {
    widened,  // reads f32: a bf16 input is widened for it, the gradient it returns rounded back
    rounded,  // handed its input as it comes, which it widens (and keeps as it came); its output
              // is rounded to bf16 and its output gradient widened for it, as autocast returns
              // them: Linear, whose product rounds its operands to bf16 anyway, and BatchNorm2d
              // (its statistics over the whole batch in f32)
    passed,   // handed its inputs in bf16 (an f32 one rounded, as autocast rounds a convolution's
              // operands) and returns bf16, gradients too; at other precisions f32 in, f32 out:
              // the elementwise layers and max pooling, whose kernels read bf16 and compute
              // each element in f32, and Conv2d, which computes a piece of images at a time in
              // f32; each result rounded once
  };
  virtual Bf16 bf16() const { return Bf16::widened; }
  // The state of the layer's random generator (Dropout's masks), which checkpoints save so that
  // a resumed run draws what an uninterrupted one would; empty for layers without one.
  virtual std::vector<uint64_t> random_state() const { return {}; }
  virtual void set_random_state(const std::vector<uint64_t>& state);

  // Moves parameters (and their grads) and buffers to `device` as `dtype` (f32, or f64 on cpu);
  // integer buffers keep their dtype.
  void to(Device device, DType dtype = DType::f32);
  // Sets every parameter's grad to zero.
  void zero_grad();
};

// A parameter of `shape` (zeros, gradient zeroed) on the cpu.
Parameter make_parameter(const Shape& shape);

}  // namespace i2v
