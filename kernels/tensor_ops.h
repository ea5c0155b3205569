// Kernels every tensor needs, whatever its dtype: fill with a value and copy between strided
// layouts (what makes a view contiguous). They work on raw elements of 1, 2, 4 or 8 bytes.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/host_device.h"

namespace i2v {

constexpr int kMaxDims = 8;

// dst[i] = src[i] for every index i of `shape`; strides are in elements.
struct StridedCopy {
  int dims = 0;
  int64_t shape[kMaxDims] = {};
  int64_t src_strides[kMaxDims] = {};
  int64_t dst_strides[kMaxDims] = {};
};

// The element offset of the `linear`-th index (C order over `shape`) in a layout with `strides`.
I2V_HD int64_t strided_offset(int64_t linear, int dims, const int64_t* shape, const int64_t* strides) {
  int64_t offset = 0;
  for (int d = dims - 1; d >= 0; --d) {
    offset += (linear % shape[d]) * strides[d];
    linear /= shape[d];
  }
  return offset;
}

// Calls f(T{}) with T the unsigned integer type of `element_bytes` bytes (1, 2, 4 or 8): the
// kernels below move elements without looking at them.
template <typename F>
void visit_element_type(int element_bytes, F&& f) {
  switch (element_bytes) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

}  // namespace i2v

I2V_DECLARE_KERNELS(
    // Sets `count` elements of `element_bytes` bytes each to the low bytes of `pattern`.
    void fill_elements(void* data, int64_t count, int element_bytes, uint64_t pattern);
    // Copies `count` elements (the product of layout.shape) from src to dst.
    void strided_copy(void* dst, const void* src, int element_bytes, const StridedCopy& layout,
                      int64_t count);)
