// safetensors: the weights format of PyTorch and Hugging Face, read and written.
//
// A file is an 8-byte little-endian length N, then N bytes of JSON, then the data buffer:
//
//   {"__metadata__": {"format": "pt"},                       optional, strings only
//    "features.0.weight": {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets": [0, 6912]},
//    ...}
//
// with data_offsets relative to the start of the buffer, elements little-endian in C order.
//
// Reading is strict, as the reference implementation (huggingface/safetensors) is: the header
// is at most 100,000,000 bytes and lies inside the file; it is one JSON object whose first
// byte is '{'; every tensor has exactly "dtype", "shape" and "data_offsets"; shape and dtype
// give exactly the bytes the offsets span; and the tensors, ordered by offset, tile the buffer
// from its first byte to the end of the file — no gap, no overlap, no trailing bytes. Stricter
// than the reference: a name given twice is refused (JSON would keep one silently), and so is a
// tensor field other than those three. Every error names the file and, where there is one, the
// tensor.
//
// Dtypes: F32, F64, I32, I64, U64, U8 and BF16 load as the i2v dtype of the same name (BF16 as
// bf16, bit for bit: released models often ship their weights so), BOOL as u8, F16 widens to f32
// (exactly: every value, subnormals, ±inf and NaN keep their value; i2v has no f16 dtype). The
// other dtypes of the format (I8, I16, U16, U32, F8_*) are listed but cannot be read. A model
// loading a BF16 file widens the tensors to its f32 parameters (Model::load_state_dict).
// Writing stores each i2v dtype as its own (u8 as U8, bf16 as BF16); the bytes are written as
// they are, so a save/load round trip is bit-exact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/file.h"
#include "nn/tensor.h"

namespace i2v {

// The largest header read or written, as in the reference implementation.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// A file's tensors and metadata, all in memory.
struct Safetensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// One tensor as the header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: "F32", "F16", "BF16", "I64", ...
  Shape shape;
  uint64_t begin = 0;  // its bytes are [begin, end) of the data buffer
  uint64_t end = 0;

  int64_t numel() const { return shape_numel(shape); }
};

// An open safetensors file whose header has been read and validated; tensors are read on
// demand, one at a time (so a large file can be listed, or loaded tensor by tensor, without
// holding it all in memory).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  // The tensors in file order (by offset).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  // Throws, naming the file, when there is no such tensor.
  const SafetensorsEntry& entry(const std::string& name) const;
  uint64_t file_bytes() const { return file_bytes_; }
  // Where the data buffer starts in the file: 8 + the header's length.
  uint64_t data_offset() const { return data_offset_; }

  // The tensor, in its i2v dtype (F16 widened to f32, BF16 as bf16), on `device`.
  Tensor read(const std::string& name, Device device = Device::cpu()) const;
  Tensor read(const SafetensorsEntry& entry, Device device = Device::cpu()) const;
  // `bytes` bytes of the file from `offset` (all of them, or an error naming the file).
  void read_bytes(uint64_t offset, void* destination, size_t bytes) const;

 private:
  File file_;
  uint64_t file_bytes_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of the file, on `device`.
Safetensors load_safetensors(const std::string& path, Device device = Device::cpu());

// The floating-point tensors (host) that hold NaN or infinite values, as one line for a
// warning: "conv1.weight (3 NaN, 1 infinite of 1,728 values), fc.bias (...)"; "" when none. A
// weight file with them loads (it may be meant), but a model that uses them computes NaN.
std::string describe_non_finite(const std::map<std::string, Tensor>& tensors);

// Writes `contents` atomically (base/atomic_file.h). The same contents always give the same
// bytes: tensors ordered by element size (largest first, so that each tensor's bytes are
// aligned to its element size) then by name, metadata by key, the header padded with spaces to
// a multiple of 8 bytes (as the reference implementation does).
void save_safetensors(const std::string& path, const Safetensors& contents);

// A file laid out before it is written: the 8-byte length and the padded JSON header, then the
// tensors' bytes in file order (host, contiguous). For writers that add to the bytes, such as
// checkpoints with a checksum.
struct SafetensorsLayout {
  std::string header;
  std::vector<Tensor> data;
};
SafetensorsLayout layout_safetensors(const Safetensors& contents);
// Writes the layout to `file`.
void write_safetensors_layout(File& file, const SafetensorsLayout& layout);

// Checks that `tensors` hold exactly the names of `expected`, each with its shape. The error
// says where the tensors came from (`source`, e.g. the file) and lists every missing,
// unexpected and mis-shaped tensor.
void check_shapes(const std::map<std::string, Tensor>& tensors, const std::map<std::string, Shape>& expected,
                  const std::string& source);

}  // namespace i2v
