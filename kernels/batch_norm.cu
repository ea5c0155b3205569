// BatchNorm on the GPU (see batch_norm.h).
//
// Training forward: two per-channel sums (mean, then Σ(x − mean)²; kernels/reduce.cuh, no
// atomics), a per-channel running update, one elementwise pass: 3 reads and 1 write of x, ~16
// bytes per element, memory-bound (~190 G elements/s at 3 TB/s). Backward: one two-value sum
// (Σdy, Σdy·(x − mean)) reading x and dy, then an elementwise pass reading both again and
// writing dx: ~20 bytes per element. The per-element kernels recompute the channel's scale
// (a sqrt and a division) instead of reading a precomputed one: arithmetic is free here.
#include "kernels/batch_norm.h"
#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {

void batch_norm_statistics(const float* x, int64_t n, int64_t c, int64_t s, float* mean, float* var) {
  const float inverse_count = 1.0f / float(n * s);
  channel_sums<1>(ElementValues<float>{x}, n, c, s, inverse_count, mean);
  channel_sums<1>(SquaredDeviations<float>{x, mean}, n, c, s, inverse_count, var);
}

void batch_norm_update_running(const float* mean, const float* var, int64_t c, int64_t m, float momentum,
                               float* running_mean, float* running_var, int64_t* num_batches_tracked) {
  for_each_element(BatchNormRunningUpdate<float>{mean, var, momentum, float(m) / float(m - 1), running_mean,
                                                 running_var, num_batches_tracked},
                   c);
}

void batch_norm_forward(const float* x, const float* mean, const float* var, const float* gamma, const float* beta,
                        int64_t n, int64_t c, int64_t s, float eps, float* y) {
  for_each_element(BatchNormApply<float>{x, mean, var, gamma, beta, eps, c, s, y}, n * c * s);
}

void batch_norm_backward_sums(const float* x, const float* dy, const float* mean, int64_t n, int64_t c, int64_t s,
                              float* sums) {
  channel_sums<2>(BatchNormGradTerms<float>{x, dy, mean}, n, c, s, 1.0f, sums);
}

void batch_norm_backward_parameters(const float* var, const float* sums, int64_t c, float eps, float* dgamma,
                                    float* dbeta) {
  for_each_element(BatchNormParameterGrads<float>{var, sums, eps, c, dgamma, dbeta}, c);
}

void batch_norm_backward_input(const float* x, const float* dy, const float* mean, const float* var,
                               const float* gamma, const float* sums, int64_t count, int64_t n, int64_t c, int64_t s,
                               float eps, float* dx) {
  for_each_element(BatchNormInputGrad<float>{x, dy, mean, var, gamma, sums, eps, float(count), c, s, dx}, n * c * s);
}

}  // namespace i2v::I2V_GPU_NS
