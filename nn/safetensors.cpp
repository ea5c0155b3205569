#include "nn/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/text.h"
#include "kernels/tensor_ops.h"

namespace i2v {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian, as this host must be");

namespace {

using nlohmann::json;

// ---- dtypes ----------------------------------------------------------------------------------

enum class Conversion { copy, f16_to_f32, unsupported };

struct FileDType {
  const char* name;
  size_t element_bytes;
  DType loads_as;  // meaningless when unsupported
  Conversion conversion;
};

// Every whole-byte dtype of the format (so a valid file can at least be listed).
constexpr FileDType kFileDTypes[] = {
    {"F32", 4, DType::f32, Conversion::copy},           {"F64", 8, DType::f64, Conversion::copy},
    {"I32", 4, DType::i32, Conversion::copy},           {"I64", 8, DType::i64, Conversion::copy},
    {"U64", 8, DType::u64, Conversion::copy},           {"U8", 1, DType::u8, Conversion::copy},
    {"BOOL", 1, DType::u8, Conversion::copy},           {"F16", 2, DType::f32, Conversion::f16_to_f32},
    {"BF16", 2, DType::bf16, Conversion::copy},         {"I8", 1, DType::u8, Conversion::unsupported},
    {"I16", 2, DType::u8, Conversion::unsupported},     {"U16", 2, DType::u8, Conversion::unsupported},
    {"U32", 4, DType::u8, Conversion::unsupported},     {"F8_E4M3", 1, DType::u8, Conversion::unsupported},
    {"F8_E5M2", 1, DType::u8, Conversion::unsupported}, {"F8_E8M0", 1, DType::u8, Conversion::unsupported},
    {"C64", 8, DType::u8, Conversion::unsupported},
};

const FileDType* find_file_dtype(const std::string& name) {
  for (const FileDType& dtype : kFileDTypes)
    if (name == dtype.name) return &dtype;
  return nullptr;
}

std::string known_dtype_names() {
  std::string names;
  for (const FileDType& dtype : kFileDTypes) names += (names.empty() ? "" : ", ") + std::string(dtype.name);
  return names;
}

std::string readable_dtype_names() {
  std::string names;
  for (const FileDType& dtype : kFileDTypes)
    if (dtype.conversion != Conversion::unsupported)
      names += (names.empty() ? "" : ", ") + std::string(dtype.name);
  return names;
}

const char* file_dtype_for(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::u64: return "U64";
    case DType::bf16: return "BF16";
  }
  return "?";
}

// IEEE half -> float, exact. Normal numbers re-bias the exponent (15 -> 127); subnormals are
// m * 2^-24, exact in float; inf and NaN keep their sign and payload.
float f16_to_f32(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else {
    const float magnitude = float(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// ---- reading the header ----------------------------------------------------------------------

uint64_t load_le64(const unsigned char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Parses the header text; a key given twice in any object is an error (nlohmann would keep one).
json parse_header_json(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> keys_of_open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  const json::parser_callback_t track_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) keys_of_open_objects.pop_back();
    if (event == json::parse_event_t::key && duplicate.empty() &&
        !keys_of_open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
      duplicate_depth = depth;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, track_keys);
  } catch (const json::exception& e) {
    I2V_THROW("{}: the header is not valid JSON: {}", path, e.what());
  }
  I2V_CHECK(duplicate.empty(), "{}: {} '{}' appears twice in the header", path,
            duplicate_depth == 1 ? "tensor name" : "key", duplicate);
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& path) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  I2V_CHECK(value.is_object(), "{}: __metadata__ must be an object of strings, not {}", path, value.type_name());
  for (const auto& [key, item] : value.items()) {
    I2V_CHECK(item.is_string(), "{}: __metadata__ value of '{}' must be a string, not {}", path, key,
              item.type_name());
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// The non-negative integers of a JSON array (`what` names it in errors).
std::vector<uint64_t> unsigned_array(const json& value, const std::string& what) {
  I2V_CHECK(value.is_array(), "{} must be an array of non-negative integers, not {}", what, value.type_name());
  std::vector<uint64_t> numbers;
  for (const json& item : value) {
    I2V_CHECK(item.is_number_unsigned(), "{} must hold non-negative integers, not {}", what, item.dump());
    numbers.push_back(item.get<uint64_t>());
  }
  return numbers;
}

// One tensor's entry, checked on its own: fields, dtype, shape, and offsets against the dtype
// and the size of the data buffer.
SafetensorsEntry parse_entry(const std::string& name, const json& value, uint64_t data_bytes,
                             const std::string& path) {
  const std::string where = fmt::format("{}: tensor '{}'", path, name);
  I2V_CHECK(value.is_object(), "{}: must be an object with dtype, shape and data_offsets, not {}", where,
            value.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    I2V_CHECK(value.contains(field), "{}: has no \"{}\"", where, field);
  for (const auto& [field, item] : value.items())
    I2V_CHECK(field == "dtype" || field == "shape" || field == "data_offsets",
              "{}: unexpected field \"{}\" (a tensor has dtype, shape and data_offsets)", where, field);

  SafetensorsEntry entry;
  entry.name = name;
  const json& dtype = value["dtype"];
  I2V_CHECK(dtype.is_string(), "{}: dtype must be a string, not {}", where, dtype.dump());
  entry.dtype = dtype.get<std::string>();
  const FileDType* file_dtype = find_file_dtype(entry.dtype);
  I2V_CHECK(file_dtype != nullptr, "{}: unknown dtype '{}' (the format's dtypes: {})", where, entry.dtype,
            known_dtype_names());

  // Strides multiply the sizes even when one of them is 0, so the product of the non-zero sizes
  // must fit in an int64 too.
  uint64_t numel = 1, extent = 1;
  for (uint64_t size : unsigned_array(value["shape"], where + ": shape")) {
    I2V_CHECK(!__builtin_mul_overflow(extent, std::max<uint64_t>(size, 1), &extent) && extent <= uint64_t(INT64_MAX),
              "{}: shape {} overflows", where, value["shape"].dump());
    numel *= size;
    entry.shape.push_back(int64_t(size));
  }
  uint64_t needed_bytes = 0;
  I2V_CHECK(!__builtin_mul_overflow(numel, file_dtype->element_bytes, &needed_bytes), "{}: shape {} overflows", where,
            value["shape"].dump());

  const std::vector<uint64_t> offsets = unsigned_array(value["data_offsets"], where + ": data_offsets");
  I2V_CHECK(offsets.size() == 2, "{}: data_offsets must be [begin, end], not {}", where,
            value["data_offsets"].dump());
  entry.begin = offsets[0];
  entry.end = offsets[1];
  I2V_CHECK(entry.begin <= entry.end, "{}: data_offsets [{}, {}] end before they begin", where, entry.begin,
            entry.end);
  I2V_CHECK(entry.end <= data_bytes,
            "{}: data_offsets [{}, {}] reach beyond the {} bytes of data in the file (truncated file?)", where,
            entry.begin, entry.end, data_bytes);
  I2V_CHECK(entry.end - entry.begin == needed_bytes,
            "{}: shape {} of {} needs {} bytes, but data_offsets [{}, {}] span {}", where,
            shape_str(entry.shape), entry.dtype, needed_bytes, entry.begin, entry.end, entry.end - entry.begin);
  return entry;
}

// Sorts the entries by offset and checks that they tile the data buffer exactly.
void check_tiling(std::vector<SafetensorsEntry>& entries, uint64_t data_bytes, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& entry : entries) {
    I2V_CHECK(entry.begin >= covered, "{}: tensor '{}' (bytes [{}, {})) overlaps tensor '{}' (bytes [{}, {}))", path,
              entry.name, entry.begin, entry.end, previous->name, previous->begin, previous->end);
    I2V_CHECK(entry.begin == covered, "{}: {} unused bytes [{}, {}) of the data buffer before tensor '{}'", path,
              entry.begin - covered, covered, entry.begin, entry.name);
    covered = entry.end;
    previous = &entry;
  }
  I2V_CHECK(covered == data_bytes, "{}: {} bytes after the last tensor's data (the tensors end at byte {} of {})",
            path, data_bytes - covered, covered, data_bytes);
}

void check_header_length(uint64_t header_bytes, uint64_t file_bytes, const unsigned char* prefix,
                         const std::string& path) {
  if (header_bytes > kSafetensorsMaxHeaderBytes) {
    const bool zip = prefix[0] == 'P' && prefix[1] == 'K' && prefix[2] == 3 && prefix[3] == 4;
    I2V_CHECK(!zip,
              "{}: not a safetensors file but a zip archive (a PyTorch .pt/.pth file?); convert it with "
              "scripts/safetensors_reference.py from-torch",
              path);
    I2V_THROW("{}: header length {} exceeds the limit of {} bytes (not a safetensors file, or corrupt)", path,
              header_bytes, kSafetensorsMaxHeaderBytes);
  }
  I2V_CHECK(8 + header_bytes <= file_bytes,
            "{}: header length {} goes beyond the end of the file ({} bytes; truncated file?)", path, header_bytes,
            file_bytes);
}

}  // namespace

// ---- SafetensorsFile -----------------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(File::open_for_reading(path)) {
  I2V_CHECK(file_.is_regular_file(), "{} is not a regular file", path);
  file_bytes_ = file_.size();
  I2V_CHECK(file_bytes_ >= 8, "{}: {} bytes is too short for a safetensors file (it starts with an 8-byte length)",
            path, file_bytes_);

  unsigned char length_bytes[8];
  read_bytes(0, length_bytes, 8);
  const uint64_t header_bytes = load_le64(length_bytes);
  check_header_length(header_bytes, file_bytes_, length_bytes, path);
  data_offset_ = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes_ - data_offset_;

  std::string text(header_bytes, '\0');
  read_bytes(8, text.data(), text.size());
  I2V_CHECK(!text.empty() && text[0] == '{', "{}: the header does not start with '{{' (not a safetensors file?)",
            path);
  // nlohmann's parser would stop at a NUL and ignore the rest; JSON text never holds one.
  const size_t nul = text.find('\0');
  I2V_CHECK(nul == std::string::npos, "{}: the header is not valid JSON: a NUL byte at byte {} of it", path, nul);
  const json header = parse_header_json(text, path);
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__")
      metadata_ = parse_metadata(value, path);
    else
      entries_.push_back(parse_entry(name, value, data_bytes, path));
  }
  check_tiling(entries_, data_bytes, path);
  for (size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto found = index_.find(name);
  I2V_CHECK(found != index_.end(), "{}: no tensor named '{}'", file_.path(), name);
  return entries_[found->second];
}

void SafetensorsFile::read_bytes(uint64_t offset, void* destination, size_t bytes) const {
  file_.read_exactly_at(offset, destination, bytes);
}

Tensor SafetensorsFile::read(const std::string& name, Device device) const { return read(entry(name), device); }

Tensor SafetensorsFile::read(const SafetensorsEntry& entry, Device device) const {
  const FileDType& dtype = *find_file_dtype(entry.dtype);
  I2V_CHECK(dtype.conversion != Conversion::unsupported, "{}: tensor '{}' has dtype {}, which i2v cannot read ({})",
            file_.path(), entry.name, entry.dtype, readable_dtype_names());
  I2V_CHECK(entry.shape.size() <= size_t(kMaxDims), "{}: tensor '{}' has {} dimensions; i2v tensors have at most {}",
            file_.path(), entry.name, entry.shape.size(), kMaxDims);
  Tensor host = Tensor::empty(entry.shape, dtype.loads_as);
  const uint64_t offset = data_offset_ + entry.begin;
  if (dtype.conversion == Conversion::copy) {
    read_bytes(offset, host.raw_data(), host.nbytes());
  } else {
    std::vector<uint16_t> halves(size_t(entry.numel()));
    read_bytes(offset, halves.data(), halves.size() * sizeof(uint16_t));
    float* values = host.data<float>();
    for (size_t i = 0; i < halves.size(); ++i) values[i] = f16_to_f32(halves[i]);
  }
  return host.to(device);
}

Safetensors load_safetensors(const std::string& path, Device device) {
  const SafetensorsFile file(path);
  Safetensors contents;
  contents.metadata = file.metadata();
  for (const SafetensorsEntry& entry : file.entries()) contents.tensors[entry.name] = file.read(entry, device);
  return contents;
}

std::string describe_non_finite(const std::map<std::string, Tensor>& tensors) {
  std::string text;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined() || !tensor.device().is_host_memory()) continue;
    if (tensor.dtype() != DType::f32 && tensor.dtype() != DType::f64) continue;
    const Tensor values = tensor.contiguous().cast(DType::f64);
    const double* v = values.data<double>();
    int64_t nan = 0, infinite = 0;
    for (int64_t i = 0; i < values.numel(); ++i) {
      nan += std::isnan(v[i]);
      infinite += std::isinf(v[i]);
    }
    if (nan + infinite == 0) continue;
    std::string counts = nan ? fmt::format("{} NaN", format_count(nan)) : "";
    if (infinite) counts += fmt::format("{}{} infinite", counts.empty() ? "" : ", ", format_count(infinite));
    text += fmt::format("{}{} ({} of {} values)", text.empty() ? "" : ", ", name, counts, format_count(values.numel()));
  }
  return text;
}

// ---- writing ---------------------------------------------------------------------------------------

SafetensorsLayout layout_safetensors(const Safetensors& contents) {
  std::vector<std::pair<std::string, Tensor>> ordered(contents.tensors.begin(), contents.tensors.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second.dtype()) > dtype_size(b.second.dtype());
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!contents.metadata.empty()) header["__metadata__"] = contents.metadata;
  SafetensorsLayout layout;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : ordered) {
    I2V_CHECK(name != "__metadata__", "a tensor cannot be named __metadata__ in a safetensors file");
    I2V_CHECK(tensor.defined(), "cannot save tensor '{}': it is undefined", name);
    const uint64_t bytes = tensor.nbytes();
    header[name] = {{"dtype", file_dtype_for(tensor.dtype())},
                    {"shape", tensor.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    layout.data.push_back(tensor.to(Device::cpu()).contiguous());
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("cannot write a safetensors header: {} (tensor names and metadata must be UTF-8)", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  I2V_CHECK(text.size() <= kSafetensorsMaxHeaderBytes,
            "the safetensors header would be {} bytes, more than the {} readers accept", text.size(),
            kSafetensorsMaxHeaderBytes);
  const uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) layout.header.push_back(char((length >> (8 * i)) & 0xff));
  layout.header += text;
  return layout;
}

void write_safetensors_layout(File& file, const SafetensorsLayout& layout) {
  file.write_all(layout.header.data(), layout.header.size());
  for (const Tensor& tensor : layout.data) file.write_all(tensor.raw_data(), tensor.nbytes());
}

void save_safetensors(const std::string& path, const Safetensors& contents) {
  const SafetensorsLayout layout = layout_safetensors(contents);
  write_file_atomically(path, [&](File& file) { write_safetensors_layout(file, layout); });
}

// ---- checking against a model ----------------------------------------------------------------------

void check_shapes(const std::map<std::string, Tensor>& tensors, const std::map<std::string, Shape>& expected,
                  const std::string& source) {
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [name, shape] : expected) {
    const auto found = tensors.find(name);
    if (found == tensors.end())
      missing.push_back(name);
    else if (found->second.shape() != shape)
      misshaped.push_back(fmt::format("{} is {} but should be {}", name, shape_str(found->second.shape()),
                                      shape_str(shape)));
  }
  for (const auto& [name, tensor] : tensors)
    if (!expected.count(name)) unexpected.push_back(name);
  if (missing.empty() && unexpected.empty() && misshaped.empty()) return;

  constexpr size_t kMostNames = 10;
  std::string problems;
  if (!missing.empty()) problems += fmt::format("; {} missing: {}", missing.size(), join(missing, ", ", kMostNames));
  if (!unexpected.empty()) problems += fmt::format("; {} unexpected: {}", unexpected.size(), join(unexpected, ", ", kMostNames));
  if (!misshaped.empty()) problems += fmt::format("; {} mis-shaped: {}", misshaped.size(), join(misshaped, ", ", kMostNames));
  I2V_THROW("{}: the tensors do not match the {} expected{}", source, expected.size(), problems);
}

}  // namespace i2v
