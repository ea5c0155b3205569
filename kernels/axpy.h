// y += alpha · x, elementwise: gradients that meet where a layer's output feeds several layers.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

I2V_DECLARE_FLOATING_KERNEL(void axpy(int64_t n, scalar_t alpha, const scalar_t* x, scalar_t* y))
