#include <cstring>

#include "kernels/elementwise_cpu.h"
#include "kernels/tensor_ops.h"

namespace i2v::cpu {
namespace {

template <typename T>
void fill_as(void* data, int64_t count, uint64_t pattern) {
  T value;
  std::memcpy(&value, &pattern, sizeof(T));
  T* out = static_cast<T*>(data);
  for (int64_t i = 0; i < count; ++i) out[i] = value;
}

template <typename T>
void strided_copy_as(void* dst, const void* src, const StridedCopy& layout, int64_t count) {
  T* out = static_cast<T*>(dst);
  const T* in = static_cast<const T*>(src);
#pragma omp parallel for if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) {
    out[strided_offset(i, layout.dims, layout.shape, layout.dst_strides)] =
        in[strided_offset(i, layout.dims, layout.shape, layout.src_strides)];
  }
}

}  // namespace

void fill_elements(void* data, int64_t count, int element_bytes, uint64_t pattern) {
  visit_element_type(element_bytes, [&](auto element) { fill_as<decltype(element)>(data, count, pattern); });
}

void strided_copy(void* dst, const void* src, int element_bytes, const StridedCopy& layout,
                  int64_t count) {
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

}  // namespace i2v::cpu
