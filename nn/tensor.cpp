#include "nn/tensor.h"

#include <atomic>
#include <cstring>

#include "kernels/allocator.h"
#include "base/error.h"
#include "kernels/runtime.h"
#include "kernels/tensor_ops.h"

namespace i2v {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::u64: return 8;
    case DType::bf16: return 2;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::u64: return "u64";
    case DType::bf16: return "bf16";
  }
  return "?";
}

bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64 || dtype == DType::bf16; }

std::string shape_str(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

Storage::Storage(size_t bytes, Device device)
    : data_(allocator(device).allocate(bytes)), bytes_(bytes), device_(device) {}

Storage::~Storage() { allocator(device_).deallocate(data_); }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  const DeviceType from = src_device.type, to = dst_device.type;
  using DT = DeviceType;
  if (from == DT::cpu && to == DT::cpu) {
    std::memcpy(dst, src, bytes);
  } else if (from == DT::cpu && to == DT::sim) {
    sim::copy_host_to_device(dst, src, bytes);
  } else if (from == DT::sim && to == DT::cpu) {
    sim::copy_device_to_host(dst, src, bytes);
  } else if (from == DT::sim && to == DT::sim) {
    sim::copy_device_to_device(dst, src, bytes);
  } else if (from == DT::cpu && to == DT::cuda) {
    I2V_CUDA_CALL(copy_host_to_device, dst, src, bytes);
  } else if (from == DT::cuda && to == DT::cpu) {
    I2V_CUDA_CALL(copy_device_to_host, dst, src, bytes);
  } else if (from == DT::cuda && to == DT::cuda) {
    I2V_CUDA_CALL(copy_device_to_device, dst, src, bytes);
  } else {
    // sim <-> cuda: through the host.
    std::vector<unsigned char> staging(bytes);
    copy_bytes(staging.data(), Device::cpu(), src, src_device, bytes);
    copy_bytes(dst, dst_device, staging.data(), Device::cpu(), bytes);
  }
}

void synchronize(Device device) {
  if (device.type == DeviceType::cuda) I2V_CUDA_CALL(device_synchronize);
}

namespace {

// The bytes of `value` stored as `dtype`, in the low bytes of a uint64.
uint64_t fill_pattern(double value, DType dtype) {
  uint64_t pattern = 0;
  auto store = [&pattern](auto v) { std::memcpy(&pattern, &v, sizeof v); };
  switch (dtype) {
    case DType::f32: store(float(value)); break;
    case DType::f64: store(value); break;
    case DType::i32: store(int32_t(value)); break;
    case DType::i64: store(int64_t(value)); break;
    case DType::u8: store(uint8_t(value)); break;
    case DType::u64: store(uint64_t(value)); break;
    case DType::bf16: store(bfloat16(value)); break;
  }
  return pattern;
}

// Writes `value` converted to `dtype` at p (host memory).
void store_element(unsigned char* p, DType dtype, double value) {
  const uint64_t bits = fill_pattern(value, dtype);
  std::memcpy(p, &bits, dtype_size(dtype));
}

// An element read from host memory as double.
double element_as_double(const unsigned char* p, DType dtype) {
  auto load = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return double(v);
  };
  switch (dtype) {
    case DType::f32: return load(float{});
    case DType::f64: return load(double{});
    case DType::i32: return load(int32_t{});
    case DType::i64: return load(int64_t{});
    case DType::u8: return load(uint8_t{});
    case DType::u64: return load(uint64_t{});
    case DType::bf16: return load(bfloat16{});
  }
  return 0;
}

}  // namespace

Tensor::Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides, DType dtype)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), strides_(std::move(strides)),
      dtype_(dtype) {}

namespace {
std::atomic<bool> poison_new_tensors{false};
}

void set_poison_new_tensors(bool on) { poison_new_tensors = on; }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) I2V_CHECK(s >= 0, "negative size in shape {}", shape_str(shape));
  I2V_CHECK(shape.size() <= size_t(kMaxDims), "shape {} has more than {} dimensions", shape_str(shape),
            kMaxDims);
  auto storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  Tensor t(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
  if (poison_new_tensors && t.numel() > 0)
    I2V_DISPATCH(device, fill_elements, t.raw_data(), int64_t(t.nbytes()), 1, uint64_t(0xFF));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  I2V_CHECK(int64_t(values.size()) == shape_numel(shape), "{} values do not fill shape {}",
            values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), t.nbytes());
  return t;
}

void Tensor::check_defined(const char* what) const {
  I2V_CHECK(defined(), "{} of an undefined tensor", what);
}

Device Tensor::device() const {
  check_defined("device()");
  return storage_->device();
}

int Tensor::normalize_dim(int d, int extra) const {
  const int n = dim() + extra;
  const int normalized = d < 0 ? d + n : d;
  I2V_CHECK(normalized >= 0 && normalized < n, "dimension {} out of range for a {}-d tensor {}", d,
            dim(), shape_str(shape_));
  return normalized;
}

int64_t Tensor::size(int d) const { return shape_[size_t(normalize_dim(d))]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  check_defined("data()");
  return static_cast<char*>(storage_->data()) + offset_ * int64_t(dtype_size(dtype_));
}

template <typename T>
T* Tensor::data() const {
  I2V_CHECK(dtype_ == dtype_of<T>(), "tensor {} holds {}, not {}", shape_str(shape_), dtype_name(dtype_),
            dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}

Tensor Tensor::view(const Shape& shape) const {
  check_defined("view()");
  I2V_CHECK(is_contiguous(), "view {} of a non-contiguous tensor {}: use reshape()", shape_str(shape),
            shape_str(shape_));
  Shape resolved = shape;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      I2V_CHECK(inferred < 0, "view {}: only one dimension may be -1", shape_str(shape));
      inferred = int(i);
    } else {
      known *= resolved[i];
    }
  }
  if (inferred >= 0) {
    I2V_CHECK(known > 0 && numel() % known == 0, "view {} does not fit {} elements", shape_str(shape), numel());
    resolved[size_t(inferred)] = numel() / known;
  }
  I2V_CHECK(shape_numel(resolved) == numel(), "view {} has {} elements, the tensor {} has {}",
            shape_str(resolved), shape_numel(resolved), shape_str(shape_), numel());
  return Tensor(storage_, offset_, resolved, contiguous_strides(resolved), dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const { return contiguous().view(shape); }

Tensor Tensor::slice(int d, int64_t begin, int64_t end, int64_t step) const {
  const int axis = normalize_dim(d);
  const int64_t n = shape_[size_t(axis)];
  I2V_CHECK(step > 0, "slice step {} must be positive", step);
  I2V_CHECK(begin >= 0 && begin <= end && end <= n, "slice [{}, {}) out of range for dimension {} of size {}",
            begin, end, axis, n);
  Shape shape = shape_, strides = strides_;
  shape[size_t(axis)] = (end - begin + step - 1) / step;
  strides[size_t(axis)] *= step;
  return Tensor(storage_, offset_ + begin * strides_[size_t(axis)], shape, strides, dtype_);
}

Tensor Tensor::select(int d, int64_t i) const {
  const int axis = normalize_dim(d);
  I2V_CHECK(i >= 0 && i < shape_[size_t(axis)], "index {} out of range for dimension {} of size {}", i,
            axis, shape_[size_t(axis)]);
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + axis);
  strides.erase(strides.begin() + axis);
  return Tensor(storage_, offset_ + i * strides_[size_t(axis)], shape, strides, dtype_);
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  I2V_CHECK(int(order.size()) == dim(), "permute needs {} dimensions, got {}", dim(), order.size());
  Shape shape(order.size()), strides(order.size());
  std::vector<bool> used(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    const int axis = normalize_dim(order[i]);
    I2V_CHECK(!used[size_t(axis)], "permute: dimension {} appears twice", axis);
    used[size_t(axis)] = true;
    shape[i] = shape_[size_t(axis)];
    strides[i] = strides_[size_t(axis)];
  }
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

Tensor Tensor::transpose(int d0, int d1) const {
  std::vector<int> order(static_cast<size_t>(dim()));
  for (int i = 0; i < dim(); ++i) order[size_t(i)] = i;
  std::swap(order[size_t(normalize_dim(d0))], order[size_t(normalize_dim(d1))]);
  return permute(order);
}

Tensor Tensor::unsqueeze(int d) const {
  const int axis = normalize_dim(d, 1);
  Shape shape = shape_, strides = strides_;
  const int64_t stride = axis < dim() ? shape_[size_t(axis)] * strides_[size_t(axis)] : 1;
  shape.insert(shape.begin() + axis, 1);
  strides.insert(strides.begin() + axis, stride);
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

Tensor Tensor::squeeze(int d) const {
  const int axis = normalize_dim(d);
  I2V_CHECK(shape_[size_t(axis)] == 1, "squeeze: dimension {} has size {}, not 1", axis, shape_[size_t(axis)]);
  return select(axis, 0);
}

Tensor Tensor::contiguous() const {
  check_defined("contiguous()");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor copy = empty(shape_, dtype_, device());
  copy.copy_from(*this);
  return copy;
}

namespace {
FloatFormat float_format(DType dtype) {
  switch (dtype) {
    case DType::f64: return FloatFormat::f64;
    case DType::bf16: return FloatFormat::bf16;
    default: return FloatFormat::f32;
  }
}
}  // namespace

Tensor Tensor::cast(DType dtype) const {
  check_defined("cast()");
  if (dtype == dtype_) return *this;
  if (is_floating(dtype_) && is_floating(dtype)) {
    const Tensor source = contiguous();
    Tensor converted = empty(shape_, dtype, device());
    if (numel() > 0)
      I2V_DISPATCH(device(), cast_floats, converted.raw_data(), float_format(dtype), source.raw_data(),
                   float_format(dtype_), numel());
    return converted;
  }
  const Tensor host = to(Device::cpu()).contiguous();
  Tensor converted = empty(shape_, dtype, Device::cpu());
  const auto* from = static_cast<const unsigned char*>(host.raw_data());
  auto* to = static_cast<unsigned char*>(converted.raw_data());
  for (int64_t i = 0; i < numel(); ++i)
    store_element(to + i * int64_t(dtype_size(dtype)), dtype,
                  element_as_double(from + i * int64_t(dtype_size(dtype_)), dtype_));
  return converted.to(device());
}

Tensor Tensor::to(Device device) const {
  if (this->device() == device) return *this;
  Tensor copy = empty(shape_, dtype_, device);
  copy.copy_from(*this);
  return copy;
}

void Tensor::copy_from(const Tensor& source) {
  check_defined("copy_from()");
  source.check_defined("copy_from()");
  I2V_CHECK(source.shape_ == shape_, "copy_from: shape {} into {}", shape_str(source.shape_), shape_str(shape_));
  if (source.dtype_ != dtype_ && is_floating(source.dtype_) && is_floating(dtype_)) {
    I2V_CHECK(is_contiguous() && source.device() == device(),
              "copy_from: converting {} into {} needs a contiguous tensor on the source's device", dtype_name(source.dtype_),
              dtype_name(dtype_));
    const Tensor src = source.contiguous();
    if (numel() > 0)
      I2V_DISPATCH(device(), cast_floats, raw_data(), float_format(dtype_), src.raw_data(), float_format(source.dtype_),
                   numel());
    return;
  }
  I2V_CHECK(source.dtype_ == dtype_, "copy_from: dtype {} into {}", dtype_name(source.dtype_), dtype_name(dtype_));
  if (numel() == 0) return;
  Tensor src = source;
  if (src.device() != device()) {
    // Cross-device copies move contiguous bytes; strides are handled on one side.
    src = src.contiguous();
    if (is_contiguous()) {
      copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
      return;
    }
    Tensor staged = empty(shape_, dtype_, device());
    copy_bytes(staged.raw_data(), device(), src.raw_data(), src.device(), nbytes());
    src = staged;
  }
  if (is_contiguous() && src.is_contiguous()) {
    copy_bytes(raw_data(), device(), src.raw_data(), device(), nbytes());
    return;
  }
  StridedCopy layout;
  layout.dims = dim();
  for (int i = 0; i < dim(); ++i) {
    layout.shape[i] = shape_[size_t(i)];
    layout.src_strides[i] = src.strides_[size_t(i)];
    layout.dst_strides[i] = strides_[size_t(i)];
  }
  I2V_DISPATCH(device(), strided_copy, raw_data(), src.raw_data(), int(dtype_size(dtype_)), layout, numel());
}


Tensor& Tensor::fill_(double value) {
  check_defined("fill_()");
  if (!is_contiguous()) {
    copy_from(full(shape_, value, dtype_, device()));
    return *this;
  }
  I2V_DISPATCH(device(), fill_elements, raw_data(), numel(), int(dtype_size(dtype_)), fill_pattern(value, dtype_));
  return *this;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  data<T>();  // checks the dtype
  Tensor host = to(Device::cpu()).contiguous();
  std::vector<T> values(static_cast<size_t>(numel()));
  if (!values.empty()) std::memcpy(values.data(), host.raw_data(), host.nbytes());  // an empty tensor has no data pointer
  return values;
}

template <typename T>
T Tensor::item(const std::vector<int64_t>& index) const {
  I2V_CHECK(int(index.size()) == dim(), "item: {} indices for a {}-d tensor", index.size(), dim());
  int64_t offset = 0;
  for (int i = 0; i < dim(); ++i) {
    I2V_CHECK(index[size_t(i)] >= 0 && index[size_t(i)] < shape_[size_t(i)],
              "item: index {} out of range for dimension {} of size {}", index[size_t(i)], i, shape_[size_t(i)]);
    offset += index[size_t(i)] * strides_[size_t(i)];
  }
  T value;
  copy_bytes(&value, Device::cpu(), data<T>() + offset, device(), sizeof(T));
  return value;
}

std::string Tensor::str(int64_t max_values) const {
  if (!defined()) return "Tensor (undefined)";
  std::string text = fmt::format("Tensor {} {} on {}", dtype_name(dtype_), shape_str(shape_), device().name());
  if (numel() > max_values) return text;
  Tensor host = to(Device::cpu()).contiguous();
  const auto* bytes = static_cast<const unsigned char*>(host.raw_data());
  text += " {";
  for (int64_t i = 0; i < numel(); ++i)
    text += fmt::format("{}{:.6g}", i ? ", " : "", element_as_double(bytes + i * int64_t(dtype_size(dtype_)), dtype_));
  return text + "}";
}

#define I2V_INSTANTIATE_TENSOR(T)                                                               \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&, Device);          \
  template T* Tensor::data<T>() const;                                                          \
  template std::vector<T> Tensor::to_vector<T>() const;                                         \
  template T Tensor::item<T>(const std::vector<int64_t>&) const;
I2V_INSTANTIATE_TENSOR(float)
I2V_INSTANTIATE_TENSOR(double)
I2V_INSTANTIATE_TENSOR(int32_t)
I2V_INSTANTIATE_TENSOR(int64_t)
I2V_INSTANTIATE_TENSOR(uint8_t)
I2V_INSTANTIATE_TENSOR(uint64_t)
I2V_INSTANTIATE_TENSOR(bfloat16)
#undef I2V_INSTANTIATE_TENSOR

}  // namespace i2v
