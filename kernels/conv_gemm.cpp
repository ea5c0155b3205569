// The convolution GEMMs on the CPU: fused AVX-512 packing for float where the CPU has it,
// im2col into the workspace + kernels/gemm.h otherwise (and for double, the gradient
// checker's reference).
#include <type_traits>

#include "kernels/conv_gemm.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace i2v::cpu {
namespace {

// The col matrix of the group: the images themselves, or im2col written into `col`.
template <typename T>
const T* col_matrix(const T* images, int64_t count, const ConvGeometry& g, T* col) {
  if (g.is_pointwise() && count == 1) return images;
  im2col(images, count, g, col);
  return col;
}

}  // namespace

bool conv_gemm_packs_im2col(int64_t count, const ConvGeometry& g) {
  return cpu_has_avx512f() && conv_gemm_avx512_fits(count, g);
}

template <typename T>
void conv_forward_gemm(const T* weight, int64_t out_channels, const T* images, int64_t count,
                       const ConvGeometry& g, T* col, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    if (conv_gemm_packs_im2col(count, g)) return conv_forward_avx512(weight, out_channels, images, count, g, y);
  }
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  gemm(false, false, out_channels, columns, rows, T(1), weight, rows, col_matrix(images, count, g, col), columns, T(0),
       y, columns);
}

template <typename T>
void conv_weight_grad_gemm(const T* dy, int64_t out_channels, const T* images, int64_t count,
                           const ConvGeometry& g, T* col, T* grad_weight) {
  if constexpr (std::is_same_v<T, float>) {
    if (conv_gemm_packs_im2col(count, g))
      return conv_weight_grad_avx512(dy, out_channels, images, count, g, grad_weight);
  }
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  gemm(false, true, out_channels, rows, columns, T(1), dy, columns, col_matrix(images, count, g, col), columns, T(1),
       grad_weight, rows);
}

template <typename T>
void conv_input_grad_gemm(const T* weight, int64_t out_channels, const T* dy, int64_t count,
                          const ConvGeometry& g, T* col, T* grad_images) {
  const int64_t rows = g.col_rows(), columns = count * g.out_pixels();
  const bool direct = g.is_pointwise() && count == 1;  // the gradient of col is the images'
  gemm(true, false, rows, columns, out_channels, T(1), weight, rows, dy, columns, T(0), direct ? grad_images : col,
       columns);
  if (!direct) col2im(col, count, g, grad_images);
}

#define I2V_INSTANTIATE_CONV_GEMM(T)                                                                         \
  template void conv_forward_gemm<T>(const T*, int64_t, const T*, int64_t, const ConvGeometry&, T*, T*);     \
  template void conv_weight_grad_gemm<T>(const T*, int64_t, const T*, int64_t, const ConvGeometry&, T*, T*); \
  template void conv_input_grad_gemm<T>(const T*, int64_t, const T*, int64_t, const ConvGeometry&, T*, T*);
I2V_INSTANTIATE_CONV_GEMM(float)
I2V_INSTANTIATE_CONV_GEMM(double)
#undef I2V_INSTANTIATE_CONV_GEMM

}  // namespace i2v::cpu
