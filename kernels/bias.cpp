// Bias forward and gradient on the CPU. The forward adds row by row (no index division per
// element, unlike AddChannelBias, which the GPU runs); the gradient is kernels/reduce_cpu.h's
// per-channel sums, accumulated in double.
#include <vector>

#include "kernels/bias.h"
#include "kernels/elementwise_cpu.h"
#include "kernels/reduce_cpu.h"

namespace i2v::cpu {

template <typename T>
void add_channel_bias(T* y, const T* bias, int64_t outer, int64_t channels, int64_t inner) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * channels * inner > (1 << 16))
  for (int64_t i = 0; i < outer; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      T* row = y + (i * channels + c) * inner;
      const T b = bias[c];
      for (int64_t p = 0; p < inner; ++p) row[p] += b;
    }
}

template <typename T>
void channel_bias_grad(const T* dy, int64_t outer, int64_t channels, int64_t inner, T* bias_grad) {
  std::vector<T> sums(static_cast<size_t>(channels));
  channel_sums<1>(ElementValues<T>{dy}, outer, channels, inner, T(1), sums.data());
  for_each_element(AddChannelSums<T>{sums.data(), bias_grad}, channels);
}

template void add_channel_bias<float>(float*, const float*, int64_t, int64_t, int64_t);
template void add_channel_bias<double>(double*, const double*, int64_t, int64_t, int64_t);
template void channel_bias_grad<float>(const float*, int64_t, int64_t, int64_t, float*);
template void channel_bias_grad<double>(const double*, int64_t, int64_t, int64_t, double*);

}  // namespace i2v::cpu
