// Softmax cross-entropy on the GPU (see cross_entropy.h): the softmax kernel (one warp per row)
// gives the probabilities and each row's log-sum-exp, a per-channel sum (kernels/reduce.cuh)
// averages the rows' losses, and backward is one elementwise pass. Memory-bound: logits read
// three times and probabilities written once forward, read once backward; [8, 1539] is 49 KB,
// so the four launches cost more than the work.
#include "kernels/cross_entropy.h"
#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"
#include "kernels/softmax.h"

namespace i2v::I2V_GPU_NS {

void cross_entropy_forward(const float* logits, const int64_t* targets, int64_t n, int64_t classes,
                           float* probabilities, float* log_sum_exp, float* loss) {
  softmax_forward(logits, n, classes, 1, probabilities, log_sum_exp);
  channel_sums<1>(CrossEntropyTerms<float>{logits, targets, log_sum_exp, classes}, 1, 1, n, 1.0f / float(n), loss);
}

void cross_entropy_backward(const float* probabilities, const int64_t* targets, int64_t n, int64_t classes,
                            float* dlogits) {
  for_each_element(CrossEntropyBackward<float>{probabilities, targets, classes, 1.0f / float(n), dlogits},
                   n * classes);
}

}  // namespace i2v::I2V_GPU_NS
