// An N-dimensional array on a device (NCHW for images).
//
// A Tensor is a view: a shape, strides (in elements) and an offset into a Storage, which owns
// device memory obtained from the device's allocator. Copying a Tensor copies the view, not the
// data (like PyTorch); `clone()` copies the data. Views share their storage: `slice`,
// `select`, `permute`, `view`. Data moves between devices only through explicit calls:
// `to(device)` and `copy_from(other)`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kernels/bfloat16.h"
#include "kernels/device.h"

namespace i2v {

// Element types. bf16 (kernels/bfloat16.h) is a storage type: weight files, casts, copies,
// fills and views work on it on every device; layers and losses compute in f32 (or f64 on the
// cpu) and refuse a bf16 tensor, naming its dtype (Tensor::data<float>() checks it).
enum class DType : uint8_t { f32, f64, i32, i64, u8, u64, bf16 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
// f32, f64 and bf16.
bool is_floating(DType dtype);

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::u64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::bf16; }

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);

// A block of device memory, returned to its allocator when the last view of it goes away.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  size_t bytes_;
  Device device_;
};

class Tensor {
 public:
  // An undefined tensor: no storage, no shape. Most operations refuse it.
  Tensor() = default;

  // Uninitialised memory.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  // From host values (their count must match the shape), placed on `device`.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return int(shape_.size()); }
  // Size of dimension d; negative d counts from the end.
  int64_t size(int d) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const;
  bool is_contiguous() const;
  // Offset of the first element in its storage, in elements.
  int64_t storage_offset() const { return offset_; }
  // True when both views start in the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Pointer to the first element; checks the dtype. On cuda it is a device pointer.
  template <typename T>
  T* data() const;
  void* raw_data() const;

  // ---- views (no copy) ----
  // Same data, new shape; requires a contiguous tensor. One dimension may be -1.
  Tensor view(const Shape& shape) const;
  // As view(), copying first when the tensor is not contiguous.
  Tensor reshape(const Shape& shape) const;
  // Elements begin, begin+step, ... < end along dimension d.
  Tensor slice(int d, int64_t begin, int64_t end, int64_t step = 1) const;
  // Index i along dimension d, which is removed.
  Tensor select(int d, int64_t i) const;
  Tensor permute(const std::vector<int>& order) const;
  Tensor transpose(int d0, int d1) const;
  Tensor unsqueeze(int d) const;
  Tensor squeeze(int d) const;

  // ---- copies ----
  // This tensor if contiguous, else a contiguous copy on the same device.
  Tensor contiguous() const;
  Tensor clone() const;
  // A copy on `device` (this tensor itself if it is already there).
  Tensor to(Device device) const;
  // A copy with elements converted to `dtype` (this tensor itself if it already is that dtype).
  // Between f32, f64 and bf16 the conversion runs on the tensor's device: widening is exact,
  // narrowing rounds to nearest, ties to even (to bf16 as cvt.rn.bf16.f32 does, NaN becoming
  // 0x7fff; from f64 rounded once, kernels/bfloat16.h). Other pairs convert on the host through
  // double, as C++'s conversions do (floats to integers truncate toward zero).
  Tensor cast(DType dtype) const;
  // Copies `source` (same shape and dtype, any device, any strides) into this tensor's elements;
  // between floating dtypes it converts as cast() does (into a contiguous tensor on `source`'s
  // device), without cast()'s new tensor.
  void copy_from(const Tensor& source);
  Tensor& fill_(double value);

  // ---- host access ----
  // All elements, in C order, copied to the host.
  template <typename T>
  std::vector<T> to_vector() const;
  // One element, copied to the host.
  template <typename T>
  T item(const std::vector<int64_t>& index) const;

  // "Tensor f32 [2, 3] on sim" (and the values, when there are at most `max_values`).
  std::string str(int64_t max_values = 16) const;

 private:
  Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides, DType dtype);
  int normalize_dim(int d, int extra = 0) const;
  void check_defined(const char* what) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::f32;
};

// C-order (row-major) strides for `shape`.
Shape contiguous_strides(const Shape& shape);

// Copies `bytes` between any two devices.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Waits until the device has finished all work (a no-op on cpu and sim).
void synchronize(Device device);

// When on, every new tensor's memory is filled with 0xFF bytes (NaN for floats) before it is
// handed out, so a kernel that leaves an output element unwritten shows NaN. Tests turn it on.
void set_poison_new_tensors(bool on);

}  // namespace i2v
