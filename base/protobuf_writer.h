// Protocol Buffers' wire format, written by hand: the encoding of a message as a sequence of
// fields, each a key (field number << 3 | wire type) and a value
// (https://protobuf.dev/programming-guides/encoding/). Enough for the files i2v writes in other
// tools' formats (ONNX models: nn/onnx_export.h) without a generated copy of their .proto.
//
//   ProtobufWriter tensor;
//   tensor.add_varints(1, {3, 224, 224});   // repeated int64 dims = 1 (packed)
//   tensor.add_varint(2, 1);                // int32 data_type = 2
//   ProtobufWriter graph;
//   graph.add_message(5, tensor);           // TensorProto initializer = 5
//
// Fields come out in the order they are added (parsers accept any order). Integers are varints:
// a negative int64 takes ten bytes, as protobuf encodes it (two's complement, not zig-zag).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace i2v {

class ProtobufWriter {
 public:
  // int32, int64, uint64, bool and enum fields (wire type 0).
  void add_varint(int field, int64_t value);
  // float fields (wire type 5, little-endian IEEE 754).
  void add_float(int field, float value);
  // string and bytes fields (wire type 2: the length, then the bytes).
  void add_bytes(int field, std::string_view bytes);
  // An embedded message (wire type 2).
  void add_message(int field, const ProtobufWriter& message) { add_bytes(field, message.bytes()); }
  // Packed repeated fields (one wire-type-2 field holding the values back to back), as proto3
  // writes repeated numbers.
  void add_varints(int field, const std::vector<int64_t>& values);
  void add_floats(int field, const std::vector<float>& values);

  // The message so far.
  const std::string& bytes() const { return bytes_; }

 private:
  void key(int field, int wire_type);
  void varint(uint64_t value);

  std::string bytes_;
};

}  // namespace i2v
