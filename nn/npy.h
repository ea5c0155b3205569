// NumPy's .npy files: reading and writing the format numpy.save writes, without Python.
//
// Supported: format versions 1.0, 2.0 and 3.0 headers; C order; little-endian float32, float64,
// int32, int64, uint64, and the one-byte uint8 and bool; at most 8 dimensions (a tensor's). Anything else — big-endian data,
// Fortran order, object arrays (pickles), structured or other dtypes, a size that does not
// match the shape — is refused with a message naming the file and what to do about it.
// Files are written with a version 1.0 header (2.0 when the header needs more than 64 KiB),
// padded so the data starts at a multiple of 64 bytes, as numpy does. Writes are atomic.
//
// bfloat16: numpy has no such dtype. ml_dtypes (the bfloat16 of JAX and TensorFlow) registers one,
// but np.save writes it as 'descr': '<V2' — two opaque bytes, the same header any 2-byte void
// array gets — so the file does not say its bytes are bf16, and np.load gives back raw bytes
// (ml_dtypes issue #41). i2v therefore writes a bf16 tensor widened to float32 '<f4' (exact:
// every bf16 is an f32), which numpy, PyTorch and every .npy reader load as the right values,
// at twice the bytes; and refuses '<V2' on reading, saying how to save the array instead. A bf16
// file format that says what it holds is safetensors' BF16 (nn/safetensors.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/file.h"
#include "nn/tensor.h"

namespace i2v {

enum class NpyType : uint8_t { f32, f64, i32, i64, u8, u64, boolean };

// Bytes per element.
size_t npy_type_size(NpyType type);
// numpy's descr string: "<f4", "|u1", "|b1", ...
const char* npy_descr(NpyType type);
// The dtype a tensor of this type holds (bool → u8, as 0/1 bytes).
DType npy_tensor_dtype(NpyType type);
// The .npy type of a tensor's dtype (none for bf16: see above).
NpyType npy_type_of(DType dtype);

// What the header says, and where the data starts.
struct NpyHeader {
  NpyType type = NpyType::f32;
  Shape shape;            // () for a scalar
  size_t data_offset = 0;  // bytes from the start of the file to the first element
  int64_t numel() const { return shape_numel(shape); }
  size_t data_bytes() const { return size_t(numel()) * npy_type_size(type); }
};

// An array read into memory: elements in C order, little-endian.
struct NpyArray {
  NpyType type = NpyType::f32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// An open .npy file whose data is read piece by piece, so arrays larger than memory can be
// streamed. Opening parses and checks the header, including that the file holds exactly the
// data the header announces.
class NpyFile {
 public:
  explicit NpyFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const NpyHeader& header() const { return header_; }
  // Copies `bytes` bytes of the data, starting `offset` bytes into it, to `out`.
  void read(size_t offset, size_t bytes, void* out) const;

 private:
  File file_;
  NpyHeader header_;  // after file_: read from it
};

NpyHeader read_npy_header(const std::string& path);
NpyArray read_npy(const std::string& path);
// The array as a tensor on `device` (bool arrays become u8 tensors of 0/1).
Tensor read_npy_tensor(const std::string& path, Device device = Device::cpu());

// Writes `data` (C order, numel(shape) elements of `type`) as a .npy file.
void write_npy(const std::string& path, NpyType type, const Shape& shape, const void* data);
void write_npy(const std::string& path, const NpyArray& array);
// Any tensor (any device, any strides); its dtype decides the .npy type (bf16 is written as
// float32, widened exactly).
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace i2v
