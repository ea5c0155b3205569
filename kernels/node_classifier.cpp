// The per-category classifiers on the CPU (see node_classifier.h): kernels/reduce_cpu.h's sums
// in double, kernels/bias.h for the bias.
#include <vector>

#include "kernels/bias.h"
#include "kernels/elementwise_cpu.h"
#include "kernels/node_classifier.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void node_classifier_forward(const T* z, const T* weight, const T* bias, int64_t batch, int64_t nodes,
                             int64_t features, T* scores) {
  channel_sums<1>(NodeScoreTerms<T>{z, weight, nodes, features}, 1, batch * nodes, features, T(1), scores);
  if (bias != nullptr) add_channel_bias(scores, bias, batch, nodes, 1);
}

template <typename T>
void node_classifier_backward(const T* ds, const T* z, const T* weight, int64_t batch, int64_t nodes, int64_t features,
                              T* dz, T* weight_grad, T* bias_grad) {
  if (dz != nullptr) for_each_element(NodeInputGrad<T>{ds, weight, dz, nodes, features}, batch * nodes * features);
  if (weight_grad != nullptr) {
    std::vector<T> sums(static_cast<size_t>(nodes * features));
    channel_sums<1>(NodeWeightGradTerms<T>{ds, z, nodes, features}, batch, nodes * features, 1, T(1), sums.data());
    for_each_element(AddChannelSums<T>{sums.data(), weight_grad}, nodes * features);
  }
  if (bias_grad != nullptr) channel_bias_grad(ds, batch, nodes, 1, bias_grad);
}

#define I2V_INSTANTIATE(T)                                                                                      \
  template void node_classifier_forward<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, T*);       \
  template void node_classifier_backward<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, T*, T*, T*);
I2V_INSTANTIATE(float)
I2V_INSTANTIATE(double)
#undef I2V_INSTANTIATE

}  // namespace i2v::cpu
