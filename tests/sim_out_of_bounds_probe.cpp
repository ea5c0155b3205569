// Runs a kernel that reads past its buffer on the sim device. Under AddressSanitizer the process
// dies with a heap-buffer-overflow report naming the kernel's source line; the ctest test passes
// when that report appears.
#include <cstdio>

#include "nn/tensor.h"

namespace i2v::sim::probe {
void copy_one_too_many(const float* in, float* out, int n);
}

int main() {
  const int n = 40;
  i2v::Tensor in = i2v::Tensor::full({n}, 1.0, i2v::DType::f32, i2v::Device::sim());
  i2v::Tensor out = i2v::Tensor::zeros({n}, i2v::DType::f32, i2v::Device::sim());
  i2v::sim::probe::copy_one_too_many(in.data<float>(), out.data<float>(), n);
  std::printf("the out-of-bounds read went unnoticed\n");
  return 1;
}
