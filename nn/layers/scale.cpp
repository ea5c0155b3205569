#include "nn/layers/scale.h"

#include <fmt/format.h>

#include "kernels/axpy.h"

namespace i2v {

namespace {

// out = factor · in, as axpy into zeros (kernels/axpy.h).
void scaled_copy(const Tensor& in, double factor, const Tensor& out) {
  Tensor(out).fill_(0.0);
  I2V_DISPATCH_FLOATING(in.device(), in.dtype(), axpy, in.numel(), scalar_t(factor), in.data<scalar_t>(),
                        out.data<scalar_t>());
}

}  // namespace

std::string Scale::describe() const { return fmt::format("scale {:g}", factor_); }

void Scale::run_forward(const Tensor& x, const Tensor& y) const { scaled_copy(x, factor_, y); }

void Scale::run_backward(const Tensor& /*y*/, const Tensor& dy, const Tensor& dx) const {
  scaled_copy(dy, factor_, dx);
}

}  // namespace i2v
