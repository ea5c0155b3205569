// Code stores (index/code_store.h): opened, then every row's id and path looked at and found. Each
// input is tried as it is and with its checksums made right (the header's fields say where the
// sections are, as the writer's would), so that mutations reach the checks behind the checksums.
#include "fuzz/fuzz_input.h"
#include "index/binary_file.h"
#include "index/code_store.h"

namespace {

using namespace i2v;

void open_store(const std::string& bytes) {
  const fuzz::InputFile input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "i2vcodes");
  fuzz::expect_clean_error(input.path(), [&] {
    const CodeStore store = CodeStore::open(input.path());
    uint64_t sum = 0;
    for (int64_t row = 0; row < store.size(); ++row) {
      for (int w = 0; w < store.words(); ++w) sum += store.code(row)[w];
      if (store.find_id(store.id(row)) != row) fuzz::finding("find_id does not find a row's id", "");
      const std::string_view path = store.image_path(row);
      const std::optional<int64_t> found = store.find_path(path);
      if (store.has_paths() && (!found || store.image_path(*found) != path))
        fuzz::finding("find_path does not find a row's path", "");
    }
    volatile uint64_t keep = sum;  // every code byte is read
    (void)keep;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  open_store(bytes);
  if (bytes.size() < kIndexHeaderBytes) return 0;
  // The header (index/code_store.cpp): count at 16, bits at 24, codes/ids/paths offsets at 32, 40,
  // 48, paths bytes at 56; the CRC-32s of codes, ids and paths at 72, 76, 80.
  const uint64_t count = fuzz::read_le(bytes, 16, 8), bits = fuzz::read_le(bytes, 24, 8);
  if (count < (uint64_t(1) << 31) && bits <= (uint64_t(1) << 20)) {
    fuzz::put_crc32(bytes, 72, fuzz::read_le(bytes, 32, 8), count * (bits / 8));
    fuzz::put_crc32(bytes, 76, fuzz::read_le(bytes, 40, 8), count * 8);
  }
  fuzz::put_crc32(bytes, 80, fuzz::read_le(bytes, 48, 8), fuzz::read_le(bytes, 56, 8));
  seal_index_header(bytes.data());
  open_store(bytes);
  return 0;
}
