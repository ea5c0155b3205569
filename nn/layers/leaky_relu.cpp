#include "nn/layers/leaky_relu.h"

#include <fmt/format.h>

#include "kernels/activation.h"

namespace i2v {

std::string LeakyReLU::describe() const { return fmt::format("leaky_relu {:g}", slope_); }

void LeakyReLU::run_forward(const Tensor& x, const Tensor& y) const {
  I2V_DISPATCH_FLOATING_OR_BF16(x.device(), x.dtype(), leaky_relu_forward, x.data<scalar_t>(), y.data<scalar_t>(),
                                x.numel(), compute_t<scalar_t>(slope_));
}

void LeakyReLU::run_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) const {
  I2V_DISPATCH_FLOATING_OR_BF16(dy.device(), dy.dtype(), leaky_relu_backward, x.data<scalar_t>(), dy.data<scalar_t>(),
                                dx.data<scalar_t>(), dy.numel(), compute_t<scalar_t>(slope_));
}

}  // namespace i2v
