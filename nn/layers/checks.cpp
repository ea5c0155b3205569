#include "nn/layers/checks.h"

#include "kernels/error.h"

namespace i2v {

void check_input_count(const Layer& layer, size_t count, size_t expected) {
  I2V_CHECK(count == expected, "{}: takes {} input(s), got {}", layer.describe(), expected, count);
}

void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output) {
  check_backward_ready(layer, saved, grad_output, saved.defined() ? saved.shape() : Shape{});
}

void check_backward_ready(const Layer& layer, const Tensor& saved, const Tensor& grad_output,
                          const Shape& expected) {
  I2V_CHECK(saved.defined(), "{}: backward() without a train-mode forward()", layer.describe());
  I2V_CHECK(grad_output.shape() == expected, "{}: gradient of shape {} for an output of shape {}",
            layer.describe(), shape_str(grad_output.shape()), shape_str(expected));
  I2V_CHECK(grad_output.device() == saved.device() && grad_output.dtype() == saved.dtype(),
            "{}: gradient on {} as {}, the forward ran on {} as {}", layer.describe(),
            grad_output.device().name(), dtype_name(grad_output.dtype()), saved.device().name(),
            dtype_name(saved.dtype()));
}

}  // namespace i2v
