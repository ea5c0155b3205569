// Fill, strided copy and float conversion on the GPU (see tensor_ops.h).
//
// All are memory-bound: a fill writes `element_bytes` per element, a copy reads and writes
// them, a conversion reads one format and writes another (bf16 to f32: 2 + 4 bytes an element,
// so ~4.8 TB/s of HBM on an H200 converts some 800 G elements a second), with no arithmetic to
// speak of. Grid-stride loops keep every element in one thread's hands whatever the grid size. A
// strided read is not coalesced unless the innermost stride is 1; making a tensor contiguous is
// an occasional copy, not a hot path.
#include <cstring>

#include "kernels/gpu.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/launch_shape.h"
#include "kernels/tensor_ops.h"

namespace i2v::I2V_GPU_NS {
namespace {

template <typename T>
__global__ void fill_kernel(T* data, int64_t count, T value) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) data[i] = value;
}

template <typename T>
__global__ void strided_copy_kernel(T* dst, const T* src, StridedCopy layout, int64_t count) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    dst[strided_offset(i, layout.dims, layout.shape, layout.dst_strides)] =
        src[strided_offset(i, layout.dims, layout.shape, layout.src_strides)];
  }
}

template <typename T>
void fill_as(void* data, int64_t count, uint64_t pattern) {
  T value;
  memcpy(&value, &pattern, sizeof(T));
  I2V_LAUNCH(fill_kernel<T>, elementwise_blocks(count), kElementwiseThreads, 0, 0,
             static_cast<T*>(data), count, value);
}

template <typename T>
void strided_copy_as(void* dst, const void* src, const StridedCopy& layout, int64_t count) {
  I2V_LAUNCH(strided_copy_kernel<T>, elementwise_blocks(count), kElementwiseThreads, 0, 0,
             static_cast<T*>(dst), static_cast<const T*>(src), layout, count);
}

}  // namespace

void fill_elements(void* data, int64_t count, int element_bytes, uint64_t pattern) {
  if (count == 0) return;
  visit_element_type(element_bytes, [&](auto element) { fill_as<decltype(element)>(data, count, pattern); });
}

void strided_copy(void* dst, const void* src, int element_bytes, const StridedCopy& layout,
                  int64_t count) {
  if (count == 0) return;
  visit_element_type(element_bytes,
                     [&](auto element) { strided_copy_as<decltype(element)>(dst, src, layout, count); });
}

void cast_floats(void* dst, FloatFormat to, const void* src, FloatFormat from, int64_t count) {
  visit_float_format(from, [&](auto source) {
    visit_float_format(to, [&](auto target) {
      using From = decltype(source);
      using To = decltype(target);
      for_each_element(CastFloats<From, To>{static_cast<const From*>(src), static_cast<To*>(dst)}, count);
    });
  });
}

}  // namespace i2v::I2V_GPU_NS
