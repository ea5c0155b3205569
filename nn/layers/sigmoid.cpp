#include "nn/layers/sigmoid.h"

#include "kernels/activation.h"

namespace i2v {

void Sigmoid::run_forward(const Tensor& x, const Tensor& y) const {
  I2V_DISPATCH_FLOATING_OR_BF16(x.device(), x.dtype(), sigmoid_forward, x.data<scalar_t>(), y.data<scalar_t>(), x.numel());
}

void Sigmoid::run_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) const {
  I2V_DISPATCH_FLOATING_OR_BF16(dy.device(), dy.dtype(), sigmoid_backward, y.data<scalar_t>(), dy.data<scalar_t>(),
                                dx.data<scalar_t>(), dy.numel());
}

}  // namespace i2v
