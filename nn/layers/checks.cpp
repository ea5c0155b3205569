#include "nn/layers/checks.h"

#include "base/error.h"

namespace i2v {

void check_input_count(const Layer& layer, size_t count, size_t expected) {
  I2V_CHECK(count == expected, "{}: takes {} input(s), got {}", layer.describe(), expected, count);
}

void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output) {
  check_backward_ready(layer, saved, grad_output, saved.defined() ? saved.shape() : Shape{});
}

void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output,
                          const Shape& expected) {
  std::optional<TensorSignature> signature;
  if (saved.defined()) signature = TensorSignature::of(saved);
  check_backward_ready(layer, signature, grad_output, expected);
}

void check_backward_ready(const Layer& layer, std::optional<TensorSignature> saved, const Tensor& grad_output,
                          const Shape& expected) {
  if (saved) saved->shape = expected;
  check_backward_ready(layer, saved, grad_output);
}

void check_backward_ready(const Layer& layer, const std::optional<TensorSignature>& output, const Tensor& grad_output) {
  I2V_CHECK(output.has_value(), "{}: backward() without a train-mode forward()", layer.describe());
  I2V_CHECK(grad_output.shape() == output->shape, "{}: gradient of shape {} for an output of shape {}",
            layer.describe(), shape_str(grad_output.shape()), shape_str(output->shape));
  I2V_CHECK(grad_output.device() == output->device && grad_output.dtype() == output->dtype,
            "{}: gradient on {} as {}, the forward ran on {} as {}", layer.describe(), grad_output.device().name(),
            dtype_name(grad_output.dtype()), output->device.name(), dtype_name(output->dtype));
}

void check_rank(const Layer& layer, const Shape& shape, int rank, const char* layout) {
  I2V_CHECK(int(shape.size()) == rank, "{}: expects a {}-d input ({}), got {}", layer.describe(), rank, layout,
            shape_str(shape));
}

}  // namespace i2v
