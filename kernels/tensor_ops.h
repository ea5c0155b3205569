// Kernels every tensor needs, whatever its dtype: fill with a value and copy between strided
// layouts (what makes a view contiguous), which work on raw elements of 1, 2, 4 or 8 bytes; and
// conversion between the floating-point formats (f32, f64, bf16), on the device that holds them.
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"
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

// The floating-point formats cast_floats converts between.
enum class FloatFormat : uint8_t { f32, f64, bf16 };

// Calls f(T{}) with T the element type of `format`: float, double or bfloat16.
template <typename F>
void visit_float_format(FloatFormat format, F&& f) {
  switch (format) {
    case FloatFormat::f32: f(float{}); break;
    case FloatFormat::f64: f(double{}); break;
    case FloatFormat::bf16: f(bfloat16{}); break;
  }
}

// The per-element body of cast_floats: dst[i] = src[i] converted. Widening is exact; narrowing
// rounds to nearest, ties to even, once (double to bf16 directly: kernels/bfloat16.h).
template <typename From, typename To>
struct CastFloats {
  const From* src;
  To* dst;
  I2V_HD void operator()(int64_t i) const { dst[i] = static_cast<To>(src[i]); }
};

}  // namespace i2v

I2V_DECLARE_KERNELS(
    // Sets `count` elements of `element_bytes` bytes each to the low bytes of `pattern`.
    void fill_elements(void* data, int64_t count, int element_bytes, uint64_t pattern);
    // Copies `count` elements (the product of layout.shape) from src to dst.
    void strided_copy(void* dst, const void* src, int element_bytes, const StridedCopy& layout,
                      int64_t count);
    // Converts `count` contiguous elements of format `from` at src to format `to` at dst (no
    // overlap).
    void cast_floats(void* dst, FloatFormat to, const void* src, FloatFormat from, int64_t count);)
