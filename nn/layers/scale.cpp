#include "nn/layers/scale.h"

#include <fmt/format.h>

#include "kernels/activation.h"

namespace i2v {

std::string Scale::describe() const { return fmt::format("scale {:g}", factor_); }

void Scale::run_forward(const Tensor& x, const Tensor& y) const {
  I2V_DISPATCH_FLOATING_OR_BF16(x.device(), x.dtype(), scale_elements, x.data<scalar_t>(), y.data<scalar_t>(),
                                x.numel(), compute_t<scalar_t>(factor_));
}

// d(factor · x) = factor · dy.
void Scale::run_backward(const Tensor& /*y*/, const Tensor& dy, const Tensor& dx) const {
  I2V_DISPATCH_FLOATING_OR_BF16(dy.device(), dy.dtype(), scale_elements, dy.data<scalar_t>(), dx.data<scalar_t>(),
                                dy.numel(), compute_t<scalar_t>(factor_));
}

}  // namespace i2v
