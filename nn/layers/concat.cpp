#include "nn/layers/concat.h"

#include "base/error.h"

namespace i2v {

Shape Concat::output_shape(const std::vector<Shape>& inputs) const {
  I2V_CHECK(!inputs.empty(), "{}: needs at least one input", describe());
  Shape out = inputs[0];
  I2V_CHECK(out.size() >= 2, "{}: input 0 is {}, not [N, C, ...]", describe(), shape_str(out));
  for (size_t i = 1; i < inputs.size(); ++i) {
    Shape same = inputs[i];
    I2V_CHECK(same.size() == out.size(), "{}: input {} is {}, input 0 is {}", describe(), i, shape_str(inputs[i]),
              shape_str(inputs[0]));
    same[1] = out[1];
    I2V_CHECK(same == out, "{}: input {} is {}, input 0 is {}: only dim 1 may differ", describe(), i,
              shape_str(inputs[i]), shape_str(inputs[0]));
    out[1] += inputs[i][1];
  }
  return out;
}

Tensor Concat::forward(const std::vector<Tensor>& inputs, Mode mode) {
  std::vector<Shape> shapes;
  for (const Tensor& x : inputs) shapes.push_back(x.shape());
  const Shape out_shape = output_shape(shapes);
  const Tensor& first = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i)
    I2V_CHECK(inputs[i].device() == first.device() && inputs[i].dtype() == first.dtype(),
              "{}: input {} is {} on {}, input 0 is {} on {}", describe(), i, dtype_name(inputs[i].dtype()),
              inputs[i].device().name(), dtype_name(first.dtype()), first.device().name());
  Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
  int64_t offset = 0;
  std::vector<int64_t> widths;
  for (const Tensor& x : inputs) {
    y.slice(1, offset, offset + x.size(1)).copy_from(x);
    offset += x.size(1);
    widths.push_back(x.size(1));
  }
  clear_saved();
  if (mode == Mode::train) {
    widths_ = widths;
    output_ = TensorSignature::of(y);
  }
  return y;
}

std::vector<Tensor> Concat::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, output_, grad_output);
  std::vector<Tensor> grads;
  int64_t offset = 0;
  for (size_t i = 0; i < widths_.size(); ++i) {
    grads.push_back(need_input_grad.at(i) ? grad_output.slice(1, offset, offset + widths_[i]).contiguous() : Tensor());
    offset += widths_[i];
  }
  return grads;
}

}  // namespace i2v
