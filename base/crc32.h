// zlib's CRC-32, the checksum of i2v's own files (checkpoints: train/checkpoint.h; index code
// stores and graphs: index/binary_file.h). It detects any change of up to 32 consecutive bits and
// misses arbitrary damage with probability 2^-32; it is not a defence against deliberate edits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace i2v {

// The CRC-32 of `bytes` bytes at `data`, continuing from `crc` (0 to start): the CRC of a file
// read in pieces is crc32_of(piece 2, crc32_of(piece 1)).
uint32_t crc32_of(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace i2v
