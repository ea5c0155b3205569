#include "kernels/activation.h"

#include "kernels/elementwise_cpu.h"

namespace i2v::cpu {

I2V_DEFINE_ACTIVATION_KERNELS(float, float)
I2V_DEFINE_ACTIVATION_KERNELS(double, double)
I2V_DEFINE_ACTIVATION_KERNELS(bfloat16, float)

}  // namespace i2v::cpu
