// Tar archives, gzip-compressed or not (data/tarball.h): every file kept, then none. Each input
// is also tried as a plain tar with every header's checksum made right (walking the headers as
// the reader does), so that mutations of sizes, names and types get past the checksums.
#include "data/tarball.h"
#include "fuzz/fuzz_input.h"

namespace {

using namespace i2v;

void read_all_ways(const std::string& bytes) {
  const fuzz::InputFile input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tgz");
  fuzz::expect_clean_error(input.path(), [&] { read_tarball(input.path(), [](const std::string&) { return true; }); });
  fuzz::expect_clean_error(input.path(), [&] { read_tarball(input.path(), [](const std::string&) { return false; }); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  read_all_ways(bytes);
  if (size >= 512 && !(data[0] == 0x1f && data[1] == 0x8b)) read_all_ways(fuzz::with_tar_checksums(bytes));
  return 0;
}
