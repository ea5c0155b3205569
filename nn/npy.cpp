#include "nn/npy.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "base/atomic_file.h"
#include "base/error.h"
#include "kernels/tensor_ops.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .npy reader assumes a little-endian host");

namespace i2v {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr size_t kAlignment = 64;  // numpy pads the header so the data starts 64-byte aligned

struct TypeInfo {
  NpyType type;
  const char* descr;
  size_t size;
  DType dtype;
};

constexpr TypeInfo kTypes[] = {
    {NpyType::f32, "<f4", 4, DType::f32}, {NpyType::f64, "<f8", 8, DType::f64},
    {NpyType::i32, "<i4", 4, DType::i32}, {NpyType::i64, "<i8", 8, DType::i64},
    {NpyType::u8, "|u1", 1, DType::u8},   {NpyType::u64, "<u8", 8, DType::u64},
    {NpyType::boolean, "|b1", 1, DType::u8},
};

const TypeInfo& info(NpyType type) {
  for (const TypeInfo& t : kTypes)
    if (t.type == type) return t;
  I2V_THROW("unknown npy type {}", int(type));
}

// The type of a descr string, or a message saying why it is refused.
NpyType parse_descr(const std::string& descr, const std::string& path) {
  I2V_CHECK(!descr.empty(), "{}: empty dtype in the .npy header", path);
  // One-byte types have no byte order; numpy writes '|' but '<', '>' and '=' mean the same.
  std::string canonical = descr;
  if (descr.size() == 3 && descr[2] == '1' && (descr[0] == '<' || descr[0] == '>' || descr[0] == '=')) canonical[0] = '|';
  if (canonical[0] == '=') canonical[0] = '<';  // native order on this little-endian host
  for (const TypeInfo& t : kTypes)
    if (canonical == t.descr) return t.type;
  I2V_CHECK(canonical[0] != '>', "{}: big-endian data ('{}') is not supported; save it little-endian, e.g. "
            "np.save(path, a.astype(a.dtype.newbyteorder('<')))", path, descr);
  I2V_CHECK(canonical.find('V') == std::string::npos,
            "{}: dtype '{}' is opaque bytes (np.save writes ml_dtypes' bfloat16, and other dtypes numpy "
            "does not know, so); save the values as float32 instead: np.save(path, a.astype(np.float32))",
            path, descr);
  I2V_CHECK(canonical.find('O') == std::string::npos,
            "{}: object arrays ('{}') hold pickled Python objects and are not supported", path, descr);
  I2V_THROW("{}: dtype '{}' is not supported (supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8', "
            "uint64 '<u8', uint8 '|u1', bool '|b1')", path, descr);
}

// A reader of the Python literal numpy writes as the header: a dict of strings, booleans and a
// tuple of integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        skip_space();
        I2V_CHECK(pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"'),
                  "{}: structured dtypes (a list as 'descr') are not supported", path_);
        header.type = parse_descr(quoted(), path_);
        have_descr = true;
      } else if (key == "fortran_order") {
        const bool fortran = boolean();
        I2V_CHECK(!fortran, "{}: Fortran-order arrays are not supported; save np.ascontiguousarray(a)", path_);
        have_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        have_shape = true;
      } else {
        I2V_THROW("{}: unexpected key '{}' in the .npy header", path_, key);
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    I2V_CHECK(have_descr && have_order && have_shape,
              "{}: the .npy header lacks 'descr', 'fortran_order' or 'shape': {}", path_, text_);
    return header;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    I2V_CHECK(accept(c), "{}: malformed .npy header (expected '{}' at character {}): {}", path_, c, pos_, text_);
  }
  std::string quoted() {
    skip_space();
    I2V_CHECK(pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"'),
              "{}: malformed .npy header (expected a string at character {}): {}", path_, pos_, text_);
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    I2V_CHECK(end != std::string::npos, "{}: malformed .npy header (unterminated string): {}", path_, text_);
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    I2V_THROW("{}: malformed .npy header (expected True or False at character {}): {}", path_, pos_, text_);
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    while (!accept(')')) {
      skip_space();
      size_t digits = 0;
      int64_t value = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        I2V_CHECK(value < (int64_t(1) << 56), "{}: dimension too large in the .npy header: {}", path_, text_);
        value = value * 10 + (text_[pos_++] - '0');
        ++digits;
      }
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
      I2V_CHECK(digits > 0, "{}: malformed shape in the .npy header: {}", path_, text_);
      shape.push_back(value);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};

NpyHeader read_header(const File& file) {
  const std::string& path = file.path();
  const size_t file_bytes = size_t(file.size());
  I2V_CHECK(file_bytes >= kMagicBytes + 4, "{}: not a .npy file (only {} bytes)", path, file_bytes);
  unsigned char prefix[12] = {};
  file.read_exactly_at(0, prefix, std::min<size_t>(sizeof prefix, file_bytes));
  I2V_CHECK(std::memcmp(prefix, kMagic, kMagicBytes) == 0, "{}: not a .npy file (bad magic)", path);
  const int major = prefix[6];
  I2V_CHECK(major >= 1 && major <= 3, "{}: unsupported .npy format version {}.{}", path, major, int(prefix[7]));
  size_t length_bytes = major == 1 ? 2 : 4;
  size_t header_length = 0;
  for (size_t i = 0; i < length_bytes; ++i) header_length |= size_t(prefix[8 + i]) << (8 * i);
  const size_t header_start = 8 + length_bytes;
  I2V_CHECK(header_start + header_length <= file_bytes, "{}: truncated .npy header", path);
  std::string text(header_length, '\0');
  file.read_exactly_at(header_start, text.data(), header_length);
  NpyHeader header = HeaderParser(text, path).parse();
  header.data_offset = header_start + header_length;
  // The element count, the strides (the product of the sizes, a 0 counted as 1) and the bytes
  // must fit in an int64 before anything is computed from them.
  I2V_CHECK(header.shape.size() <= size_t(kMaxDims), "{}: shape {} has {} dimensions; i2v reads arrays of at most {}",
            path, shape_str(header.shape), header.shape.size(), kMaxDims);
  uint64_t numel = 1, extent = 1, data_bytes = 0;
  for (int64_t d : header.shape) {
    I2V_CHECK(d >= 0, "{}: negative dimension", path);
    I2V_CHECK(!__builtin_mul_overflow(extent, uint64_t(std::max<int64_t>(d, 1)), &extent) && extent <= uint64_t(INT64_MAX),
              "{}: shape {} is too large", path, shape_str(header.shape));
    numel *= uint64_t(d);
  }
  I2V_CHECK(!__builtin_mul_overflow(numel, npy_type_size(header.type), &data_bytes) && data_bytes <= uint64_t(INT64_MAX),
            "{}: shape {} of {} is too large ({} elements)", path, shape_str(header.shape), npy_descr(header.type), numel);
  const size_t expected = header.data_offset + header.data_bytes();
  I2V_CHECK(file_bytes >= expected, "{}: truncated: shape {} of {} needs {} bytes, the file has {}", path,
            shape_str(header.shape), npy_descr(header.type), expected, file_bytes);
  I2V_CHECK(file_bytes == expected, "{}: {} bytes after the data of shape {} (not a plain .npy array)", path,
            file_bytes - expected, shape_str(header.shape));
  return header;
}

std::string header_text(NpyType type, const Shape& shape) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ',';  // Python's one-element tuple: (3,)
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", npy_descr(type), dims);
  // Magic, version, length, dict, spaces, newline: a multiple of 64 bytes.
  const bool version2 = dict.size() + 1 + 10 > 65535;
  const size_t prefix = version2 ? 12 : 10;
  const size_t total = (prefix + dict.size() + 1 + kAlignment - 1) / kAlignment * kAlignment;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicBytes);
  out += char(version2 ? 2 : 1);
  out += char(0);
  const size_t length = dict.size();
  for (size_t i = 0; i < (version2 ? 4u : 2u); ++i) out += char((length >> (8 * i)) & 0xFF);
  return out + dict;
}

}  // namespace

size_t npy_type_size(NpyType type) { return info(type).size; }
const char* npy_descr(NpyType type) { return info(type).descr; }
DType npy_tensor_dtype(NpyType type) { return info(type).dtype; }

NpyType npy_type_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return NpyType::f32;
    case DType::f64: return NpyType::f64;
    case DType::i32: return NpyType::i32;
    case DType::i64: return NpyType::i64;
    case DType::u8: return NpyType::u8;
    case DType::u64: return NpyType::u64;
    case DType::bf16:
      I2V_THROW("no .npy type for bf16: numpy has none (write_npy of a tensor widens bf16 to float32)");
  }
  I2V_THROW("no .npy type for dtype {}", dtype_name(dtype));
}

NpyFile::NpyFile(const std::string& path) : file_(File::open_for_reading(path)), header_(read_header(file_)) {}

void NpyFile::read(size_t offset, size_t bytes, void* out) const {
  I2V_CHECK(offset + bytes <= header_.data_bytes(), "{}: reading bytes {}..{} of {}", path(), offset, offset + bytes,
            header_.data_bytes());
  file_.read_exactly_at(header_.data_offset + offset, out, bytes);
}

NpyHeader read_npy_header(const std::string& path) { return NpyFile(path).header(); }

NpyArray read_npy(const std::string& path) {
  const NpyFile file(path);
  const NpyHeader& header = file.header();
  NpyArray array{header.type, header.shape, std::vector<uint8_t>(header.data_bytes())};
  file.read(0, array.bytes.size(), array.bytes.data());
  if (header.type == NpyType::boolean) {
    for (uint8_t b : array.bytes) I2V_CHECK(b <= 1, "{}: a bool array holds the byte {}", path, int(b));
  }
  return array;
}

Tensor read_npy_tensor(const std::string& path, Device device) {
  const NpyArray array = read_npy(path);
  Tensor host = Tensor::empty(array.shape, npy_tensor_dtype(array.type));
  if (!array.bytes.empty()) std::memcpy(host.raw_data(), array.bytes.data(), array.bytes.size());
  return host.to(device);
}

void write_npy(const std::string& path, NpyType type, const Shape& shape, const void* data) {
  const std::string header = header_text(type, shape);
  const size_t bytes = size_t(shape_numel(shape)) * npy_type_size(type);
  write_file_atomically(path, [&](File& file) {
    file.write_all(header.data(), header.size());
    file.write_all(data, bytes);
  });
}

void write_npy(const std::string& path, const NpyArray& array) {
  I2V_CHECK(array.bytes.size() == size_t(shape_numel(array.shape)) * npy_type_size(array.type),
            "write_npy {}: {} bytes for shape {} of {}", path, array.bytes.size(), shape_str(array.shape),
            npy_descr(array.type));
  write_npy(path, array.type, array.shape, array.bytes.data());
}

void write_npy(const std::string& path, const Tensor& tensor) {
  const Tensor host = (tensor.dtype() == DType::bf16 ? tensor.cast(DType::f32) : tensor).to(Device::cpu()).contiguous();
  write_npy(path, npy_type_of(host.dtype()), host.shape(), host.numel() ? host.raw_data() : nullptr);
}

}  // namespace i2v
