// node_concat's broadcast and its gradient on the GPU (see node_concat.h): one thread per
// appended element; the gradient is kernels/reduce.cuh's channel sums, one channel per
// (image, column) summing its C nodes. Memory-bound and small (N·C·E elements: 64 × 100 × 1024
// is 26 MB, ~10 µs at 3 TB/s).
#include "kernels/elementwise.cuh"
#include "kernels/node_concat.h"
#include "kernels/reduce.cuh"

namespace i2v::I2V_GPU_NS {

void broadcast_to_nodes(const float* v, int64_t batch, int64_t nodes, int64_t extra, int64_t width, int64_t offset,
                        float* y) {
  for_each_element(BroadcastToNodes<float>{v, y, nodes, extra, width, offset}, batch * nodes * extra);
}

void sum_over_nodes(const float* dy, int64_t batch, int64_t nodes, int64_t extra, int64_t width, int64_t offset,
                    float* dv) {
  channel_sums<1>(NodeColumnTerms<float>{dy, batch, nodes, extra, width, offset}, nodes, batch * extra, 1, 1.0f, dv);
}

}  // namespace i2v::I2V_GPU_NS
