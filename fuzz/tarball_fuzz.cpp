// Tar archives, gzip-compressed or not (data/tarball.h): every file kept, then none. Each input
// is also tried as a plain tar with every header's checksum made right (walking the headers as
// the reader does), so that mutations of sizes, names and types get past the checksums.
#include <cstring>

#include "data/tarball.h"
#include "fuzz/fuzz_input.h"

namespace {

using namespace i2v;

void read_all_ways(const std::string& bytes) {
  const fuzz::InputFile input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tgz");
  fuzz::expect_clean_error(input.path(), [&] { read_tarball(input.path(), [](const std::string&) { return true; }); });
  fuzz::expect_clean_error(input.path(), [&] { read_tarball(input.path(), [](const std::string&) { return false; }); });
}

uint64_t octal(const char* field, size_t length) {
  uint64_t value = 0;
  for (size_t i = 0; i < length && field[i] >= '0' && field[i] <= '7'; ++i) value = value * 8 + uint64_t(field[i] - '0');
  return value;
}

// The ustar checksum of each 512-byte header, as tar writes it: six octal digits, NUL, space.
std::string with_checksums(std::string bytes) {
  for (size_t offset = 0; offset + 512 <= bytes.size();) {
    char* header = &bytes[offset];
    if (header[0] == '\0') break;
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(header[i]);
    std::snprintf(header + 148, 8, "%06o", sum & 0777777);
    header[155] = ' ';
    const uint64_t size = octal(header + 124 + (header[124] == ' '), 11);
    if (size > bytes.size()) break;
    offset += 512 + (size + 511) / 512 * 512;
  }
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  read_all_ways(bytes);
  if (size >= 512 && !(data[0] == 0x1f && data[1] == 0x8b)) read_all_ways(with_checksums(bytes));
  return 0;
}
