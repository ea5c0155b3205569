// node_concat's broadcast and its gradient on the CPU (see node_concat.h).
#include "kernels/elementwise_cpu.h"
#include "kernels/node_concat.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void broadcast_to_nodes(const T* v, int64_t batch, int64_t nodes, int64_t extra, int64_t width, int64_t offset, T* y) {
  for_each_element(BroadcastToNodes<T>{v, y, nodes, extra, width, offset}, batch * nodes * extra);
}

template <typename T>
void sum_over_nodes(const T* dy, int64_t batch, int64_t nodes, int64_t extra, int64_t width, int64_t offset, T* dv) {
  channel_sums<1>(NodeColumnTerms<T>{dy, batch, nodes, extra, width, offset}, nodes, batch * extra, 1, T(1), dv);
}

#define I2V_INSTANTIATE(T)                                                                            \
  template void broadcast_to_nodes<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T*);     \
  template void sum_over_nodes<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
