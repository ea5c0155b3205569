#include "nn/caffe_model.h"

#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/file.h"
#include "base/text.h"
#include "kernels/tensor_ops.h"

namespace i2v {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "protobuf stores fixed-width numbers little-endian; this reader copies them as they are");

// ---- limits on what a file may declare ----
constexpr uint64_t kMaxFileBytes = std::numeric_limits<int32_t>::max();  // protobuf's 2 GiB limit
constexpr int kMaxGroupDepth = 64;                                        // nested groups skipped
constexpr size_t kMaxBlobAxes = kMaxDims;  // a tensor's limit (Caffe's own is 32)
// Caffe counts a blob's elements in an int, so no dimension and no count exceeds this.
constexpr int64_t kMaxBlobCount = std::numeric_limits<int32_t>::max();

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* wire_type_name(uint32_t wire_type) {
  switch (wire_type) {
    case kVarint: return "varint";
    case kFixed64: return "64-bit";
    case kLengthDelimited: return "length-delimited";
    case kStartGroup: return "start-group";
    case kEndGroup: return "end-group";
    case kFixed32: return "32-bit";
  }
  return "invalid";
}

// Where an error points: the file, and the layer and blob being read when there is one.
struct Context {
  std::string source;
  const uint8_t* file_begin = nullptr;
  int layer_index = -1;  // position among the net's layers, -1 outside a layer
  std::string layer_name;
  int blob_index = -1;
};

[[noreturn]] void fail_at(const Context& context, const uint8_t* at, const std::string& reason) {
  std::string where = fmt::format("{}: byte {}", context.source, at - context.file_begin);
  if (context.layer_index >= 0) {
    where += fmt::format(", layer #{}", context.layer_index);
    if (!context.layer_name.empty()) where += fmt::format(" '{}'", context.layer_name);
  }
  if (context.blob_index >= 0) where += fmt::format(", blob {}", context.blob_index);
  I2V_THROW("{}: {}", where, reason);
}

struct Field {
  uint32_t number;
  uint32_t wire_type;
  const uint8_t* start;  // its key's first byte, for error offsets
};

struct Bytes {
  const uint8_t* begin;
  const uint8_t* end;
  size_t size() const { return size_t(end - begin); }
};

// Reads the fields of one message, [begin, end), checking every length against what is left.
class WireReader {
 public:
  WireReader(Bytes bytes, const Context& context) : pos_(bytes.begin), end_(bytes.end), context_(context) {}

  bool at_end() const { return pos_ == end_; }

  Field next_field() {
    const uint8_t* start = pos_;
    const uint64_t key = varint();
    const Field field{uint32_t(key >> 3), uint32_t(key & 7), start};
    if (key > std::numeric_limits<uint32_t>::max() || field.number == 0)
      fail_at(context_, start, fmt::format("invalid field key {} (not a Caffe model?)", key));
    if (field.wire_type > kFixed32)
      fail_at(context_, start, fmt::format("field {} has invalid wire type {} (not a Caffe model?)",
                                           field.number, field.wire_type));
    return field;
  }

  uint64_t varint() {
    const uint8_t* start = pos_;
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ == end_) fail_at(context_, start, "truncated varint");
      const uint8_t byte = *pos_++;
      // The tenth byte holds bit 63 only; anything more overflows 64 bits.
      if (shift == 63 && byte > 1) fail_at(context_, start, "varint longer than 64 bits");
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
  }

  Bytes length_delimited() {
    const uint8_t* start = pos_;
    const uint64_t length = varint();
    const size_t left = size_t(end_ - pos_);
    if (length > left)
      fail_at(context_, start, fmt::format("length {} runs past the end of its message ({} bytes left)", length, left));
    const Bytes bytes{pos_, pos_ + length};
    pos_ += length;
    return bytes;
  }

  Bytes fixed(size_t width) {
    if (size_t(end_ - pos_) < width)
      fail_at(context_, pos_, fmt::format("truncated {}-byte value ({} bytes left)", width, end_ - pos_));
    const Bytes bytes{pos_, pos_ + width};
    pos_ += width;
    return bytes;
  }

  // Passes over a field this reader does not use, whatever its wire type.
  void skip(const Field& field, int depth = 0) {
    switch (field.wire_type) {
      case kVarint: varint(); return;
      case kFixed64: fixed(8); return;
      case kLengthDelimited: length_delimited(); return;
      case kFixed32: fixed(4); return;
      case kStartGroup: skip_group(field, depth); return;
      case kEndGroup:
        fail_at(context_, field.start, fmt::format("end of group {} without its start", field.number));
    }
  }

  // Checks that a field the reader knows has the wire type it must have.
  void expect(const Field& field, uint32_t wire_type, const char* what) const {
    if (field.wire_type != wire_type)
      fail_at(context_, field.start, fmt::format("{} (field {}) has wire type {}, expected {}", what,
                                                 field.number, wire_type_name(field.wire_type),
                                                 wire_type_name(wire_type)));
  }

  std::string string(const Field& field, const char* what) {
    expect(field, kLengthDelimited, what);
    const Bytes bytes = length_delimited();
    return std::string(reinterpret_cast<const char*>(bytes.begin), bytes.size());
  }

  Bytes message(const Field& field, const char* what) {
    expect(field, kLengthDelimited, what);
    return length_delimited();
  }

  // A repeated fixed-width number (float: 4 bytes, double: 8), packed (one length-delimited run)
  // or not (one value per field): the raw little-endian values.
  Bytes fixed_values(const Field& field, size_t width, const char* what) {
    if (field.wire_type == (width == 4 ? kFixed32 : kFixed64)) return fixed(width);
    expect(field, kLengthDelimited, what);
    const Bytes run = length_delimited();
    if (run.size() % width != 0)
      fail_at(context_, field.start,
              fmt::format("packed {} holds {} bytes, not a multiple of {}", what, run.size(), width));
    return run;
  }

  // A repeated varint, packed or not: calls take(value) for each value.
  template <typename Take>
  void varint_values(const Field& field, const char* what, Take take) {
    if (field.wire_type == kVarint) return take(varint(), field.start);
    expect(field, kLengthDelimited, what);
    WireReader run(length_delimited(), context_);
    while (!run.at_end()) {
      const uint8_t* start = run.pos_;
      take(run.varint(), start);
    }
  }

 private:
  void skip_group(const Field& group, int depth) {
    if (depth >= kMaxGroupDepth)
      fail_at(context_, group.start, fmt::format("groups nested more than {} deep", kMaxGroupDepth));
    for (;;) {
      if (at_end()) fail_at(context_, group.start, fmt::format("group {} has no end", group.number));
      const Field field = next_field();
      if (field.wire_type == kEndGroup) {
        if (field.number != group.number)
          fail_at(context_, field.start,
                  fmt::format("end of group {} inside group {}", field.number, group.number));
        return;
      }
      skip(field, depth + 1);
    }
  }

  const uint8_t* pos_;
  const uint8_t* end_;
  const Context& context_;
};

// ---- BlobProto ----

// What one pass over a BlobProto finds before its values are copied.
struct BlobLayout {
  Shape dims;          // BlobShape.dim
  bool has_shape = false;
  Shape legacy{0, 0, 0, 0};  // num, channels, height, width
  bool has_legacy = false;
  int64_t float_count = 0;   // values in `data`
  int64_t double_count = 0;  // values in `double_data`
};

int64_t checked_dim(const Context& context, const uint8_t* at, uint64_t value, const char* what) {
  const int64_t dim = int64_t(value);
  if (dim < 0 || dim > kMaxBlobCount)
    fail_at(context, at, fmt::format("blob {} is {}, outside [0, {}]", what, dim, kMaxBlobCount));
  return dim;
}

Shape read_blob_shape(Bytes bytes, const Context& context) {
  Shape dims;
  WireReader reader(bytes, context);
  while (!reader.at_end()) {
    const Field field = reader.next_field();
    if (field.number != 1) {
      reader.skip(field);
      continue;
    }
    reader.varint_values(field, "BlobShape.dim", [&](uint64_t value, const uint8_t* at) {
      if (dims.size() == kMaxBlobAxes) fail_at(context, at, fmt::format("blob shape has more than {} axes", kMaxBlobAxes));
      dims.push_back(checked_dim(context, at, value, "dimension"));
    });
  }
  return dims;
}

// One pass over a BlobProto's fields. Without `values` it counts; with it (the second pass, once
// the counts are known to fit) it also copies the data or double_data values there as floats.
BlobLayout scan_blob(Bytes bytes, const Context& context, float* values) {
  BlobLayout layout;
  WireReader reader(bytes, context);
  while (!reader.at_end()) {
    const Field field = reader.next_field();
    switch (field.number) {
      case 1: case 2: case 3: case 4: {  // legacy num, channels, height, width
        static const char* const names[] = {"num", "channels", "height", "width"};
        const char* name = names[field.number - 1];
        reader.expect(field, kVarint, name);
        layout.legacy[field.number - 1] = checked_dim(context, field.start, reader.varint(), name);
        layout.has_legacy = true;
        break;
      }
      case 5: {  // data
        const Bytes run = reader.fixed_values(field, 4, "BlobProto.data");
        if (values) std::memcpy(values + layout.float_count, run.begin, run.size());
        layout.float_count += int64_t(run.size() / 4);
        break;
      }
      case 7:  // shape
        if (layout.has_shape) fail_at(context, field.start, "blob has two shapes");
        layout.dims = read_blob_shape(reader.message(field, "BlobProto.shape"), context);
        layout.has_shape = true;
        break;
      case 8: {  // double_data
        const Bytes run = reader.fixed_values(field, 8, "BlobProto.double_data");
        const int64_t count = int64_t(run.size() / 8);
        if (values) {
          for (int64_t i = 0; i < count; ++i) {
            double value;
            std::memcpy(&value, run.begin + 8 * i, 8);
            values[layout.double_count + i] = static_cast<float>(value);
          }
        }
        layout.double_count += count;
        break;
      }
      default:  // diff and double_diff (gradients) and anything else
        reader.skip(field);
    }
  }
  return layout;
}

Tensor read_blob(Bytes bytes, const Context& context) {
  const BlobLayout layout = scan_blob(bytes, context, nullptr);
  // As Caffe's Blob::FromProto: any legacy dimension makes the blob 4-D.
  const Shape shape = layout.has_legacy ? layout.legacy : layout.dims;
  int64_t declared = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && declared > kMaxBlobCount / dim)
      fail_at(context, bytes.begin, fmt::format("blob shape {} has more than {} elements", shape_str(shape), kMaxBlobCount));
    declared *= dim;
  }
  if (layout.float_count > 0 && layout.double_count > 0)
    fail_at(context, bytes.begin, fmt::format("blob holds both data ({} values) and double_data ({} values)",
                                              layout.float_count, layout.double_count));
  const int64_t held = layout.float_count + layout.double_count;
  if (held != declared)
    fail_at(context, bytes.begin, fmt::format("blob shape {} has {} elements but the blob holds {} values",
                                              shape_str(shape), declared, held));
  Tensor tensor = Tensor::empty(shape, DType::f32, Device::cpu());
  if (declared > 0) scan_blob(bytes, context, tensor.data<float>());
  return tensor;
}

// ---- layers ----

// V1LayerParameter.LayerType, as Caffe's upgrade_proto names each value in LayerParameter.type.
const char* v1_layer_type_name(uint64_t value) {
  switch (value) {
    case 0: return "";  // NONE
    case 1: return "Accuracy";
    case 2: return "BNLL";
    case 3: return "Concat";
    case 4: return "Convolution";
    case 5: return "Data";
    case 6: return "Dropout";
    case 7: return "EuclideanLoss";
    case 8: return "Flatten";
    case 9: return "HDF5Data";
    case 10: return "HDF5Output";
    case 11: return "Im2col";
    case 12: return "ImageData";
    case 13: return "InfogainLoss";
    case 14: return "InnerProduct";
    case 15: return "LRN";
    case 16: return "MultinomialLogisticLoss";
    case 17: return "Pooling";
    case 18: return "ReLU";
    case 19: return "Sigmoid";
    case 20: return "Softmax";
    case 21: return "SoftmaxWithLoss";
    case 22: return "Split";
    case 23: return "TanH";
    case 24: return "WindowData";
    case 25: return "Eltwise";
    case 26: return "Power";
    case 27: return "SigmoidCrossEntropyLoss";
    case 28: return "HingeLoss";
    case 29: return "MemoryData";
    case 30: return "ArgMax";
    case 31: return "Threshold";
    case 32: return "DummyData";
    case 33: return "Slice";
    case 34: return "MVN";
    case 35: return "AbsVal";
    case 36: return "Silence";
    case 37: return "ContrastiveLoss";
    case 38: return "Exp";
    case 39: return "Deconvolution";
  }
  return nullptr;
}

// Field numbers of the two layer messages.
struct LayerFields {
  uint32_t name, type, blobs;
  bool v1;  // type is V1's enum, and field 1 is a V0 layer inside
};
constexpr LayerFields kLayerParameter{1, 2, 7, false};
constexpr LayerFields kV1LayerParameter{4, 5, 6, true};
constexpr uint32_t kV1LayerV0Layer = 1;  // V1LayerParameter.layer

CaffeLayer read_layer(Bytes bytes, const LayerFields& fields, Context& context) {
  CaffeLayer layer;
  WireReader reader(bytes, context);
  while (!reader.at_end()) {
    const Field field = reader.next_field();
    if (field.number == fields.name) {
      layer.name = reader.string(field, "layer name");
      context.layer_name = layer.name;
    } else if (field.number == fields.type && !fields.v1) {
      layer.type = reader.string(field, "layer type");
    } else if (field.number == fields.type) {
      reader.expect(field, kVarint, "V1 layer type");
      const uint64_t value = reader.varint();
      const char* name = v1_layer_type_name(value);
      layer.type = name ? name : fmt::format("V1 layer type {}", value);
    } else if (field.number == fields.blobs) {
      const Bytes blob = reader.message(field, "layer blob");
      context.blob_index = int(layer.blobs.size());
      layer.blobs.push_back(read_blob(blob, context));
      context.blob_index = -1;
    } else if (fields.v1 && field.number == kV1LayerV0Layer) {
      fail_at(context, field.start,
              "layer in Caffe's V0 format (2014), which this importer does not read; upgrade the file "
              "with Caffe's upgrade_net_proto_binary first");
    } else {
      reader.skip(field);
    }
  }
  return layer;
}

// True when the bytes look like text (a .prototxt, JSON) rather than a binary protobuf.
bool looks_like_text(std::string_view bytes) {
  const size_t n = std::min<size_t>(bytes.size(), 256);
  if (n == 0) return false;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (!(c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f))) return false;
  }
  return true;
}

CaffeNet parse_net(std::string_view bytes, const std::string& source) {
  Context context;
  context.source = source;
  context.file_begin = reinterpret_cast<const uint8_t*>(bytes.data());
  const Bytes all{context.file_begin, context.file_begin + bytes.size()};

  constexpr uint32_t kName = 1, kV1Layers = 2, kLayer = 100;
  CaffeNet net;
  bool has_v1_layers = false, has_layers = false;
  WireReader reader(all, context);
  while (!reader.at_end()) {
    const Field field = reader.next_field();
    if (field.number == kName) {
      net.name = reader.string(field, "net name");
    } else if (field.number == kLayer || field.number == kV1Layers) {
      const bool v1 = field.number == kV1Layers;
      if (v1) has_v1_layers = true;
      else has_layers = true;
      if (has_v1_layers && has_layers)
        fail_at(context, field.start, "the net has both 'layer' (field 100) and legacy 'layers' (field 2)");
      const Bytes layer = reader.message(field, v1 ? "V1 layer" : "layer");
      context.layer_index = int(net.layers.size());
      net.layers.push_back(read_layer(layer, v1 ? kV1LayerParameter : kLayerParameter, context));
      context.layer_index = -1;
      context.layer_name.clear();
    } else {
      reader.skip(field);
    }
  }
  I2V_CHECK(!net.layers.empty(), "{}: no layers (not a Caffe model?)", source);
  return net;
}

}  // namespace

CaffeNet parse_caffe_model(std::string_view bytes, const std::string& source) {
  I2V_CHECK(bytes.size() <= kMaxFileBytes, "{}: {} bytes, more than protobuf's 2 GiB message limit", source,
            bytes.size());
  I2V_CHECK(bytes.substr(0, 8) != std::string_view("\x89HDF\r\n\x1a\n", 8),
            "{}: an HDF5 file (Caffe's .caffemodel.h5); this importer reads the protobuf .caffemodel", source);
  try {
    return parse_net(bytes, source);
  } catch (const Error&) {
    // A text file fails somewhere in its first bytes; say what it probably is.
    I2V_CHECK(!looks_like_text(bytes), "{}: text, not a binary .caffemodel (a .prototxt holds no weights)", source);
    throw;
  }
}

CaffeNet load_caffe_model(const std::string& path) { return parse_caffe_model(read_file(path, kMaxFileBytes), path); }

// ---- named tensors ----

namespace {

Shape without_leading_ones(const Shape& shape) {
  size_t first = 0;
  while (first < shape.size() && shape[first] == 1) ++first;
  return Shape(shape.begin() + first, shape.end());
}

bool blob_fits(const Shape& blob, const Shape& expected) {
  if (shape_numel(blob) != shape_numel(expected)) return false;
  const Shape a = without_leading_ones(blob), b = without_leading_ones(expected);
  return a.size() != b.size() || a == b;
}

}  // namespace

std::map<std::string, Tensor> caffe_named_tensors(const CaffeNet& net, const std::map<std::string, Shape>& expected,
                                                  const CaffeImportOptions& options) {
  std::vector<std::string> bad_names, duplicates, missing, misfits, extra_blobs, extra_layers;

  std::map<std::string, const CaffeLayer*> file_layers;  // layers with blobs, by name
  for (const CaffeLayer& layer : net.layers) {
    if (layer.blobs.empty()) continue;
    if (!file_layers.emplace(layer.name, &layer).second) duplicates.push_back("'" + layer.name + "'");
  }

  // The model's parameters by layer, then by blob index (0: weight, 1: bias).
  std::map<std::string, std::map<size_t, std::string>> model_layers;
  for (const auto& [key, shape] : expected) {
    const size_t dot = key.rfind('.');
    const std::string parameter = dot == std::string::npos ? "" : key.substr(dot + 1);
    if (parameter != "weight" && parameter != "bias") {
      bad_names.push_back("'" + key + "'");
      continue;
    }
    model_layers[key.substr(0, dot)][parameter == "weight" ? 0 : 1] = key;
  }

  std::map<std::string, Tensor> tensors;
  for (const auto& [layer_name, parameters] : model_layers) {
    const auto found = file_layers.find(layer_name);
    for (const auto& [index, key] : parameters) {
      if (found == file_layers.end()) {
        missing.push_back(key);
        continue;
      }
      const std::vector<Tensor>& blobs = found->second->blobs;
      if (index >= blobs.size()) {
        missing.push_back(fmt::format("{} (layer '{}' has {} blob{})", key, layer_name, blobs.size(),
                                      blobs.size() == 1 ? "" : "s"));
        continue;
      }
      const Shape& shape = expected.at(key);
      if (!blob_fits(blobs[index].shape(), shape)) {
        misfits.push_back(fmt::format("{} {} from blob {}", key, shape_str(shape), shape_str(blobs[index].shape())));
        continue;
      }
      tensors[key] = blobs[index].view(shape);
    }
  }

  for (const auto& [name, layer] : file_layers) {
    const auto found = model_layers.find(name);
    if (found == model_layers.end()) {
      if (!options.ignore_extra_layers)
        extra_layers.push_back(fmt::format("'{}' ({}, {} blob{})", name, layer->type, layer->blobs.size(),
                                           layer->blobs.size() == 1 ? "" : "s"));
      continue;
    }
    for (size_t i = 0; i < layer->blobs.size(); ++i)
      if (!found->second.count(i))
        extra_blobs.push_back(fmt::format("'{}' blob {} {}", name, i, shape_str(layer->blobs[i].shape())));
  }

  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back("missing from the file: " + join(missing));
  if (!misfits.empty()) problems.push_back("shapes that do not fit: " + join(misfits));
  if (!extra_blobs.empty()) problems.push_back("blobs the model has no parameter for: " + join(extra_blobs));
  if (!extra_layers.empty()) problems.push_back("layers the model does not have: " + join(extra_layers));
  if (!duplicates.empty()) problems.push_back("layer names with blobs more than once: " + join(duplicates));
  if (!bad_names.empty())
    problems.push_back("parameters that are neither <layer>.weight nor <layer>.bias: " + join(bad_names));
  I2V_CHECK(problems.empty(), "Caffe net '{}' does not fit the model: {}", net.name, join(problems, "; "));
  return tensors;
}

}  // namespace i2v
