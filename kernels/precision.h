// The arithmetic of the GPU's matrix products — convolutions, linear layers, every GEMM — as
// PyTorch's torch.backends.cudnn.allow_tf32 / torch.backends.cuda.matmul.allow_tf32 choose it:
//   tf32  tensor cores with TF32 operands (8-bit exponent, 10-bit mantissa: each operand rounded
//         to nearest, products exact, sums in fp32). ~8× the fp32 throughput of an H100 (~495
//         against 67 TFLOP/s); results within ~1e-3 relative of fp32. The default, as PyTorch's
//         for convolutions.
//   fp32  the SIMT kernels, every product and sum in fp32: the exact reference.
// The setting applies to the sim and cuda devices (the emulator runs the same tensor-core
// kernels); the CPU always computes in fp32 (or double). One setting for the process, read when
// a product is launched: commands set it from --precision, training from the config.
#pragma once

#include <string>

namespace i2v {

enum class Precision { fp32, tf32 };

Precision matmul_precision();
void set_matmul_precision(Precision precision);

// "fp32" or "tf32"; anything else throws naming the choices.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);

// Sets a precision for the scope of a test or a benchmark and restores the previous one.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision precision) : previous_(matmul_precision()) { set_matmul_precision(precision); }
  ~PrecisionScope() { set_matmul_precision(previous_); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

}  // namespace i2v
