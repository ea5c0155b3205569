// The code store: N binary codes of B bits (B a multiple of 64) with an id per code and,
// optionally, the path of the image each code was computed from.
//
// A code is B/8 bytes in numpy's packbits order (bit j of the code is bit 7 - j%8 of byte j/8),
// so a store's codes are exactly `np.packbits(bits, axis=1)`. In memory a code is B/64 64-bit
// words (those bytes read little-endian); the Hamming distance does not care about bit order.
//
// On disk (all integers little-endian):
//   [0, 128)           header: magic "I2VCODES", version, N, B, section offsets and sizes, the
//                      file size, a CRC-32 per section, and a CRC-32 of the header itself
//   [4096, ...)        codes: N × B/8 bytes, row-major (page-aligned, so rows are 64-byte aligned
//                      in the memory map)
//   next, 64-aligned   ids: N × int64, strictly increasing (row order is id order, so "ties
//                      broken by the smaller id" and "by the smaller row" agree)
//   next, 64-aligned   paths (optional): (N + 1) uint64 offsets into the UTF-8 bytes that follow;
//                      a relative path is relative to the store's folder (version 2; version 1,
//                      still read, kept the paths as given)
// The file is written atomically and memory-mapped when opened: N in the millions costs no
// read into RAM. Opening checks everything: magic, version, the header's CRC-32, that N, B and
// the section offsets agree with each other and with the file's size (a truncated file is named
// as such), every section's CRC-32, ids increasing, and the path offsets.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace i2v {

constexpr int kDefaultCodeBits = 4096;

// Codes in memory: `count` rows of `words` 64-bit words, row after row.
struct CodeView {
  const uint64_t* data = nullptr;
  int64_t count = 0;
  int words = 0;

  const uint64_t* row(int64_t i) const { return data + i * words; }
  int bits() const { return words * 64; }
};

class CodeStore {
 public:
  // Maps and validates the store at `path`; throws i2v::Error naming the file and the problem.
  static CodeStore open(const std::string& path);
  CodeStore(CodeStore&& other) noexcept;
  CodeStore& operator=(CodeStore&& other) noexcept;
  CodeStore(const CodeStore&) = delete;
  CodeStore& operator=(const CodeStore&) = delete;
  ~CodeStore();

  const std::string& path() const { return path_; }
  int64_t size() const { return count_; }
  int bits() const { return bits_; }
  int words() const { return bits_ / 64; }
  CodeView codes() const { return {codes_, count_, words()}; }
  const uint64_t* code(int64_t row) const { return codes_ + row * words(); }
  int64_t id(int64_t row) const { return ids_[row]; }
  // The row holding `id`, if any.
  std::optional<int64_t> find_id(int64_t id) const;
  bool has_paths() const { return path_offsets_ != nullptr; }
  // The image path of `row` as the store records it ("" when the store has none): relative to
  // the store's folder, or absolute.
  std::string_view image_path(int64_t row) const;
  // The image path of `row` as it opens from the current directory.
  std::string image_file(int64_t row) const;
  // The first row whose image path is `image_path`, if any.
  std::optional<int64_t> find_path(std::string_view image_path) const;
  // The CRC-32 of the codes section: graphs record it to refuse a store they were not built from.
  uint32_t codes_checksum() const { return codes_checksum_; }

 private:
  CodeStore() = default;
  void unmap();

  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  int64_t count_ = 0;
  int bits_ = 0;
  const uint64_t* codes_ = nullptr;
  const int64_t* ids_ = nullptr;
  const uint64_t* path_offsets_ = nullptr;
  const char* path_bytes_ = nullptr;
  uint32_t codes_checksum_ = 0;
  uint32_t version_ = 0;
};

// What a store is written from. `read_rows(first, n, out)` fills `out` with the packed codes of
// rows first .. first+n-1 (n × bits/8 bytes); rows are asked for in order, a chunk at a time,
// so a source can stream them (from a .npy today; from a hash model over images later).
struct CodeStoreSource {
  int64_t count = 0;
  int bits = 0;
  std::function<void(int64_t first, int64_t count, uint8_t* out)> read_rows;
  std::vector<int64_t> ids;         // empty: 0 .. count-1; else strictly increasing
  std::vector<std::string> paths;   // empty, or one per row: relative to the store's folder, or absolute
};

// Writes the store atomically (validating bits, ids and paths first). Relative image paths are
// relative to the store's folder (`path_relative_to(file, store_folder)`, base/relative_path.h,
// makes them so), so that the store works from any current directory.
void write_code_store(const std::string& path, const CodeStoreSource& source);

// A source over codes already in memory.
CodeStoreSource code_source(CodeView codes, std::vector<int64_t> ids = {}, std::vector<std::string> paths = {});

// A source reading a codes .npy: uint8 N × B/8 (packed MSB-first, as np.packbits) or bool N × B.
// `ids_npy` (optional, "" for none): int32/int64 array of N unique ids; rows are reordered by id.
// `paths`: empty, or one image path per row of the .npy (reordered with the rows).
CodeStoreSource code_source_from_npy(const std::string& codes_npy, const std::string& ids_npy,
                                     std::vector<std::string> paths);

// The lines of a text file (one image path per line; a final newline is optional). Throws when
// the file cannot be read or a line is empty, naming the line.
std::vector<std::string> read_path_list(const std::string& list_file);

}  // namespace i2v
