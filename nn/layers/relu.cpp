#include "nn/layers/relu.h"

#include "kernels/activation.h"

namespace i2v {

void ReLU::run_forward(const Tensor& x, const Tensor& y) const {
  I2V_DISPATCH_FLOATING_OR_BF16(x.device(), x.dtype(), relu_forward, x.data<scalar_t>(), y.data<scalar_t>(), x.numel());
}

// The gradient from y equals the one from x: y is x where x > 0 or x is NaN, y <= 0 elsewhere.
void ReLU::run_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) const {
  I2V_DISPATCH_FLOATING_OR_BF16(dy.device(), dy.dtype(), relu_backward, y.data<scalar_t>(), dy.data<scalar_t>(),
                                dx.data<scalar_t>(), dy.numel());
}

}  // namespace i2v
