// Fused sigmoid + binary cross-entropy on the GPU (see bce_with_logits.h).
//
// Forward: one per-channel sum (kernels/reduce.cuh) over the elements of {loss, kept}, computing
// each loss on the fly (nothing is stored), then one thread divides. Backward: one elementwise
// pass. Both read logits, targets and mask once (12 bytes per element) with an exp and a log1p:
// memory-bound; [8, 1539] is 49 KB, so at i2v-tag sizes the launches (~3) cost more than the work.
#include "kernels/bce_with_logits.h"
#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {

void bce_with_logits_forward(const float* logits, const float* targets, const float* pos_weight, const float* mask,
                             int64_t n, int64_t classes, bool mean, float sum_scale, float* sums, float* loss) {
  channel_sums<2>(BceTerms<float>{{logits, targets, pos_weight, mask, classes}}, 1, 1, n, 1.0f, sums);
  for_each_element(BceFinish<float>{sums, mean, sum_scale, loss}, 1);
}

void bce_with_logits_backward(const float* logits, const float* targets, const float* pos_weight, const float* mask,
                              int64_t n, int64_t classes, bool mean, float sum_scale, const float* sums,
                              float* dlogits) {
  for_each_element(BceBackward<float>{{logits, targets, pos_weight, mask, classes}, sums, mean, sum_scale, dlogits}, n);
}

}  // namespace i2v::I2V_GPU_NS
