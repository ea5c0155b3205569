// Bias forward and gradient on the CPU, split across threads by channel (the gradient then
// needs no reduction between threads and its summation order is fixed).
#include <algorithm>

#include "kernels/bias.h"

namespace i2v::cpu {
namespace {

constexpr int64_t kParallelElements = 1 << 15;
constexpr int kLanes = 16;  // partial sums the compiler keeps in one vector register

// Σ x[0..n): kLanes interleaved partial sums (vectorisable, unlike one running sum), then
// added in double.
template <typename T>
double sum_row(const T* x, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += x[i + l];
  double sum = 0;
  for (; i < n; ++i) sum += double(x[i]);
  for (int l = 0; l < kLanes; ++l) sum += double(lanes[l]);
  return sum;
}

}  // namespace

template <typename T>
void add_channel_bias(T* y, const T* bias, int64_t outer, int64_t channels, int64_t inner) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * channels * inner > kParallelElements)
  for (int64_t i = 0; i < outer; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      T* row = y + (i * channels + c) * inner;
      const T b = bias[c];
      for (int64_t p = 0; p < inner; ++p) row[p] += b;
    }
}

template <typename T>
void channel_bias_grad(const T* dy, int64_t outer, int64_t channels, int64_t inner, T* bias_grad) {
#pragma omp parallel for schedule(static) if (outer * channels * inner > kParallelElements)
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < outer; ++i) sum += sum_row(dy + (i * channels + c) * inner, inner);
    bias_grad[c] += T(sum);
  }
}

template void add_channel_bias<float>(float*, const float*, int64_t, int64_t, int64_t);
template void add_channel_bias<double>(double*, const double*, int64_t, int64_t, int64_t);
template void channel_bias_grad<float>(const float*, int64_t, int64_t, int64_t, float*);
template void channel_bias_grad<double>(const double*, int64_t, int64_t, int64_t, double*);

}  // namespace i2v::cpu
