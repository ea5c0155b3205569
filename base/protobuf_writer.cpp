#include "base/protobuf_writer.h"

#include <cstring>

namespace i2v {
namespace {

enum WireType { kVarint = 0, kLengthDelimited = 2, kFixed32 = 5 };

// Floats as their four bytes, least significant first, whatever the host's byte order.
void append_float(std::string& out, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  for (int byte = 0; byte < 4; ++byte) out.push_back(char((bits >> (8 * byte)) & 0xff));
}

}  // namespace

void ProtobufWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    bytes_.push_back(char(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  bytes_.push_back(char(value));
}

void ProtobufWriter::key(int field, int wire_type) { varint((uint64_t(field) << 3) | uint64_t(wire_type)); }

void ProtobufWriter::add_varint(int field, int64_t value) {
  key(field, kVarint);
  varint(uint64_t(value));
}

void ProtobufWriter::add_float(int field, float value) {
  key(field, kFixed32);
  append_float(bytes_, value);
}

void ProtobufWriter::add_bytes(int field, std::string_view bytes) {
  key(field, kLengthDelimited);
  varint(bytes.size());
  bytes_.append(bytes);
}

void ProtobufWriter::add_varints(int field, const std::vector<int64_t>& values) {
  ProtobufWriter packed;
  for (int64_t value : values) packed.varint(uint64_t(value));
  add_bytes(field, packed.bytes());
}

void ProtobufWriter::add_floats(int field, const std::vector<float>& values) {
  std::string packed;
  packed.reserve(values.size() * 4);
  for (float value : values) append_float(packed, value);
  add_bytes(field, packed);
}

}  // namespace i2v
