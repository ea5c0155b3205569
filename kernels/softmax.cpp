#include "kernels/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

namespace i2v::cpu {

// One n at a time, the inner positions side by side (the innermost loop runs over s, contiguous).
template <typename T>
void softmax_forward(const T* x, int64_t outer, int64_t channels, int64_t inner, T* y, T* log_sum_exp) {
#pragma omp parallel for if (outer * channels * inner > (1 << 16))
  for (int64_t n = 0; n < outer; ++n) {
    const T* xn = x + n * channels * inner;
    T* yn = y + n * channels * inner;
    std::vector<T> row_max(size_t(inner), -std::numeric_limits<T>::infinity()), row_sum(size_t(inner), T(0));
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) row_max[s] = std::fmax(row_max[s], xn[c * inner + s]);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) {
        const T e = std::exp(xn[c * inner + s] - row_max[s]);
        yn[c * inner + s] = e;
        row_sum[s] += e;
      }
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) yn[c * inner + s] /= row_sum[s];
    if (log_sum_exp)
      for (int64_t s = 0; s < inner; ++s) log_sum_exp[n * inner + s] = row_max[s] + std::log(row_sum[s]);
  }
}

template <typename T>
void softmax_backward(const T* y, const T* dy, int64_t outer, int64_t channels, int64_t inner, T* dx) {
#pragma omp parallel for if (outer * channels * inner > (1 << 16))
  for (int64_t n = 0; n < outer; ++n) {
    const int64_t base = n * channels * inner;
    std::vector<T> dot(size_t(inner), T(0));
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) dot[s] += dy[base + c * inner + s] * y[base + c * inner + s];
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) {
        const int64_t i = base + c * inner + s;
        dx[i] = y[i] * (dy[i] - dot[s]);
      }
  }
}

template void softmax_forward<float>(const float*, int64_t, int64_t, int64_t, float*, float*);
template void softmax_forward<double>(const double*, int64_t, int64_t, int64_t, double*, double*);
template void softmax_backward<float>(const float*, const float*, int64_t, int64_t, int64_t, float*);
template void softmax_backward<double>(const double*, const double*, int64_t, int64_t, int64_t, double*);

}  // namespace i2v::cpu
