#include "base/crc32.h"

#include <zlib.h>

namespace i2v {

uint32_t crc32_of(const void* data, size_t bytes, uint32_t crc) {
  return uint32_t(::crc32_z(crc, static_cast<const Bytef*>(data), bytes));
}

}  // namespace i2v
