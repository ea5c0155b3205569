// The arithmetic of the matrix products — convolutions, linear layers, every GEMM — and their
// gradients. One setting for the process, read when a product is launched: commands set it from
// --precision, training from the config's "precision".
//   fp32  every product and sum in fp32: the SIMT kernels on sim/cuda, the AVX-512/Eigen GEMMs on
//         the cpu. The exact reference.
//   tf32  sim/cuda: tensor cores with TF32 operands (8-bit exponent, 10-bit mantissa: each
//         operand rounded to nearest, products exact, sums in fp32), ~8× the fp32 throughput of an
//         H100 (~495 against 67 TFLOP/s), within ~1e-3 relative of fp32; PyTorch's default for
//         convolutions (torch.backends.cudnn.allow_tf32) and ours on the GPU. The cpu has no TF32
//         and computes in fp32.
//   bf16  mixed precision as PyTorch's bf16 autocast: the operands of every product rounded to
//         bfloat16 (8-bit exponent, 7-bit mantissa, round to nearest even as the hardware
//         converts), products exact, sums in fp32 — on sim/cuda the m16n8k16 BF16 tensor cores
//         (~2× TF32's throughput), on a cpu with AVX-512 BF16 vdpbf16ps, elsewhere the operands
//         are rounded and the fp32 GEMM sums them. On the cpu's AVX-512 paths (not AMX) 3×3
//         convolutions go by Winograd F(2×2, 3×3), 2.25× fewer products: what is rounded there
//         are the transformed weights and inputs (kernels/conv_avx512.h). Everything else stays fp32, as under autocast:
//         batch norm statistics, softmax, the losses, the gradient norm, the optimizer with its
//         master weights and momentum; checkpoints hold the fp32 weights. The products' results
//         are within ~1e-2 relative of fp32. No loss scaling: bf16 has fp32's 8-bit exponent, so
//         gradients that fp32 represents do not underflow to zero (fp16's 5-bit exponent is why
//         fp16 training needs a loss scale). Activations pass from layer to layer in bf16, as
//         autocast's do: convolutions, activation functions and max pooling take and give bf16,
//         the outputs of linear layers and batch norms are rounded to bf16, the other layers
//         are handed f32, and the gradients take the same dtypes (nn/layer.h's Layer::bf16(),
//         applied by nn/model.cpp); what layers keep for the backward pass is bf16 too
//         (nn/layers/kept_activation.h).
// The sim device runs the same tensor-core kernels as cuda, bit for bit.
#pragma once

#include <string>

namespace i2v {

enum class Precision { fp32, tf32, bf16 };

Precision matmul_precision();
void set_matmul_precision(Precision precision);

// "fp32", "tf32" or "bf16"; anything else throws naming the choices.
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
