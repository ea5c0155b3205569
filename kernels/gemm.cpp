// CPU GEMM on Eigen's blocked, vectorised and OpenMP-parallel kernel.
#include <Eigen/Core>

#include "kernels/gemm.h"

namespace i2v::cpu {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstView = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
using View = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  View out(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == 0.0f) out.setZero(); else out *= beta;
    return;
  }
  ConstView a_stored(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstView b_stored(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  auto multiply = [&](const auto& op_a, const auto& op_b) {
    if (beta == 0.0f) {
      out.noalias() = alpha * (op_a * op_b);
    } else {
      out *= beta;
      out.noalias() += alpha * (op_a * op_b);
    }
  };
  if (trans_a && trans_b) multiply(a_stored.transpose(), b_stored.transpose());
  else if (trans_a) multiply(a_stored.transpose(), b_stored);
  else if (trans_b) multiply(a_stored, b_stored.transpose());
  else multiply(a_stored, b_stored);
}

}  // namespace i2v::cpu
