#include "index/code_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <utility>

#include "base/atomic_file.h"
#include "base/crc32.h"
#include "base/error.h"
#include "base/file.h"
#include "base/relative_path.h"
#include "index/binary_file.h"
#include "nn/npy.h"

namespace i2v {
namespace {

constexpr char kMagic[8] = {'I', '2', 'V', 'C', 'O', 'D', 'E', 'S'};
// Version 2: relative image paths are relative to the store's folder. Version 1 (still read)
// kept them as given, relative to the current directory of the command that wrote the store.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kOldestVersion = 1;
constexpr uint64_t kCodesOffset = 4096;
constexpr int64_t kRowsPerChunk = 8192;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t count;
  uint64_t bits;
  uint64_t codes_offset;
  uint64_t ids_offset;
  uint64_t paths_offset;  // 0 when the store has no paths
  uint64_t paths_bytes;
  uint64_t file_bytes;
  uint32_t codes_crc32;
  uint32_t ids_crc32;
  uint32_t paths_crc32;
  uint32_t reserved[10];
  uint32_t header_crc32;  // of every byte before it
};
static_assert(sizeof(Header) == 128, "the on-disk header is 128 bytes");

// Where each section starts for N codes of B bits and a paths section of `paths_bytes`.
struct Layout {
  uint64_t codes_offset, ids_offset, paths_offset, file_bytes;
};

Layout layout_for(uint64_t count, uint64_t bits, uint64_t paths_bytes) {
  Layout l;
  l.codes_offset = kCodesOffset;
  l.ids_offset = align64(l.codes_offset + count * (bits / 8));
  const uint64_t ids_end = l.ids_offset + count * 8;
  l.paths_offset = paths_bytes ? align64(ids_end) : 0;
  l.file_bytes = paths_bytes ? l.paths_offset + paths_bytes : ids_end;
  return l;
}

void check_bits(int64_t bits, const std::string& what) {
  I2V_CHECK(bits > 0 && bits % 64 == 0 && bits <= (1 << 20), "{}: codes of {} bits; a code store needs a positive "
            "multiple of 64 bits (at most 2^20)", what, bits);
}

void check_ids(const std::vector<int64_t>& ids, int64_t count, const std::string& what) {
  I2V_CHECK(int64_t(ids.size()) == count, "{}: {} ids for {} codes", what, ids.size(), count);
  for (int64_t i = 1; i < count; ++i)
    I2V_CHECK(ids[size_t(i)] > ids[size_t(i - 1)], "{}: ids must be strictly increasing (row {} has id {} after {})",
              what, i, ids[size_t(i)], ids[size_t(i - 1)]);
}

// The paths section: (count + 1) offsets, then the bytes.
std::string paths_section(const std::vector<std::string>& paths) {
  std::string section((paths.size() + 1) * 8, '\0');
  uint64_t offset = 0;
  std::string bytes;
  for (size_t i = 0; i <= paths.size(); ++i) {
    std::memcpy(&section[i * 8], &offset, 8);
    if (i < paths.size()) {
      bytes += paths[i];
      offset += paths[i].size();
    }
  }
  return section + bytes;
}

// Packs bool bytes (0/1) MSB-first, as np.packbits.
void pack_bits(const uint8_t* flags, int64_t bits, uint8_t* out, const std::string& what) {
  for (int64_t byte = 0; byte < bits / 8; ++byte) {
    uint8_t packed = 0;
    for (int b = 0; b < 8; ++b) {
      const uint8_t flag = flags[byte * 8 + b];
      I2V_CHECK(flag <= 1, "{}: a bool array holds the byte {}", what, int(flag));
      packed = uint8_t(packed | (flag << (7 - b)));
    }
    out[byte] = packed;
  }
}

}  // namespace

// ---- writing ----------------------------------------------------------------------------------

void write_code_store(const std::string& path, const CodeStoreSource& source) {
  check_bits(source.bits, path);
  I2V_CHECK(source.count > 0, "{}: a code store needs at least one code", path);
  I2V_CHECK(source.count <= INT32_MAX, "{}: {} codes; at most 2^31-1 are supported", path, source.count);
  std::vector<int64_t> ids = source.ids;
  if (ids.empty()) {
    ids.resize(size_t(source.count));
    std::iota(ids.begin(), ids.end(), int64_t(0));
  }
  check_ids(ids, source.count, path);
  I2V_CHECK(source.paths.empty() || int64_t(source.paths.size()) == source.count, "{}: {} image paths for {} codes",
            path, source.paths.size(), source.count);
  const std::string paths = source.paths.empty() ? std::string() : paths_section(source.paths);

  const uint64_t count = uint64_t(source.count), bits = uint64_t(source.bits), code_bytes = bits / 8;
  const Layout layout = layout_for(count, bits, paths.size());
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.header_bytes = sizeof(Header);
  header.count = count;
  header.bits = bits;
  header.codes_offset = layout.codes_offset;
  header.ids_offset = layout.ids_offset;
  header.paths_offset = layout.paths_offset;
  header.paths_bytes = paths.size();
  header.file_bytes = layout.file_bytes;
  header.ids_crc32 = crc32_of(ids.data(), ids.size() * 8);
  header.paths_crc32 = crc32_of(paths.data(), paths.size());

  write_file_atomically(path, [&](File& file) {
    const std::vector<char> zeros(kCodesOffset, 0);
    file.write_all(zeros.data(), kCodesOffset);  // the header goes in last, with its checksums
    uint32_t codes_crc32 = 0;
    std::vector<uint8_t> chunk(size_t(std::min<int64_t>(kRowsPerChunk, source.count)) * code_bytes);
    for (int64_t first = 0; first < source.count; first += kRowsPerChunk) {
      const int64_t n = std::min<int64_t>(kRowsPerChunk, source.count - first);
      source.read_rows(first, n, chunk.data());
      codes_crc32 = crc32_of(chunk.data(), size_t(n) * code_bytes, codes_crc32);
      file.write_all(chunk.data(), size_t(n) * code_bytes);
    }
    header.codes_crc32 = codes_crc32;
    const uint64_t codes_end = layout.codes_offset + count * code_bytes;
    file.write_all(zeros.data(), layout.ids_offset - codes_end);
    file.write_all(ids.data(), ids.size() * 8);
    if (!paths.empty()) {
      file.write_all(zeros.data(), layout.paths_offset - (layout.ids_offset + count * 8));
      file.write_all(paths.data(), paths.size());
    }
    seal_index_header(&header);
    file.seek(0);
    file.write_all(&header, sizeof header);
  });
}

CodeStoreSource code_source(CodeView codes, std::vector<int64_t> ids, std::vector<std::string> paths) {
  CodeStoreSource source;
  source.count = codes.count;
  source.bits = codes.bits();
  source.read_rows = [codes](int64_t first, int64_t n, uint8_t* out) {
    std::memcpy(out, codes.row(first), size_t(n) * size_t(codes.words) * 8);
  };
  source.ids = std::move(ids);
  source.paths = std::move(paths);
  return source;
}

CodeStoreSource code_source_from_npy(const std::string& codes_npy, const std::string& ids_npy,
                                     std::vector<std::string> paths) {
  auto file = std::make_shared<NpyFile>(codes_npy);
  const NpyHeader& h = file->header();
  I2V_CHECK(h.shape.size() == 2 && (h.type == NpyType::u8 || h.type == NpyType::boolean),
            "{}: codes must be a 2-D uint8 array N x B/8 (np.packbits(bits, axis=1)) or a bool array N x B, not {} "
            "of {}", codes_npy, shape_str(h.shape), npy_descr(h.type));
  const bool packed = h.type == NpyType::u8;
  const int64_t count = h.shape[0], bits = packed ? h.shape[1] * 8 : h.shape[1];
  check_bits(bits, codes_npy);
  I2V_CHECK(count > 0, "{}: no codes", codes_npy);
  I2V_CHECK(paths.empty() || int64_t(paths.size()) == count, "{} image paths for the {} codes of {}", paths.size(),
            count, codes_npy);

  // Rows are written in id order: `order[r]` is the .npy row that becomes store row r.
  std::vector<int64_t> ids;
  auto order = std::make_shared<std::vector<int64_t>>();
  if (!ids_npy.empty()) {
    const Tensor id_tensor = read_npy_tensor(ids_npy);
    I2V_CHECK(id_tensor.dim() == 1 && id_tensor.size(0) == count && (id_tensor.dtype() == DType::i64 ||
              id_tensor.dtype() == DType::i32), "{}: ids must be a 1-D int32 or int64 array of {} elements (one "
              "per code), not {} of {}", ids_npy, count, shape_str(id_tensor.shape()), dtype_name(id_tensor.dtype()));
    const std::vector<int64_t> given = id_tensor.cast(DType::i64).to_vector<int64_t>();
    order->resize(size_t(count));
    std::iota(order->begin(), order->end(), int64_t(0));
    std::stable_sort(order->begin(), order->end(), [&](int64_t a, int64_t b) { return given[size_t(a)] < given[size_t(b)]; });
    ids.resize(size_t(count));
    for (int64_t r = 0; r < count; ++r) {
      ids[size_t(r)] = given[size_t((*order)[size_t(r)])];
      I2V_CHECK(r == 0 || ids[size_t(r)] != ids[size_t(r - 1)], "{}: the id {} appears more than once", ids_npy,
                ids[size_t(r)]);
    }
    std::vector<std::string> sorted_paths;
    for (int64_t r = 0; r < count && !paths.empty(); ++r) sorted_paths.push_back(std::move(paths[size_t((*order)[size_t(r)])]));
    paths = std::move(sorted_paths);
    if (std::is_sorted(order->begin(), order->end())) order->clear();  // already in id order: read in sequence
  }

  CodeStoreSource source;
  source.count = count;
  source.bits = int(bits);
  source.ids = std::move(ids);
  source.paths = std::move(paths);
  const size_t row_bytes = size_t(h.shape[1]), code_bytes = size_t(bits / 8);
  source.read_rows = [file, order, packed, row_bytes, code_bytes, bits](int64_t first, int64_t n, uint8_t* out) {
    std::vector<uint8_t> flags(packed ? 0 : row_bytes * size_t(n));
    uint8_t* staging = packed ? out : flags.data();
    if (order->empty()) {
      file->read(size_t(first) * row_bytes, size_t(n) * row_bytes, staging);
    } else {
      for (int64_t r = 0; r < n; ++r)
        file->read(size_t((*order)[size_t(first + r)]) * row_bytes, row_bytes, staging + size_t(r) * row_bytes);
    }
    if (!packed)
      for (int64_t r = 0; r < n; ++r) pack_bits(&flags[size_t(r) * row_bytes], bits, out + size_t(r) * code_bytes, file->path());
  };
  return source;
}

std::vector<std::string> read_path_list(const std::string& list_file) {
  std::ifstream in(list_file);
  I2V_CHECK(in.good(), "cannot open {}: {}", list_file, std::strerror(errno));
  std::vector<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    I2V_CHECK(!line.empty(), "{}:{}: empty line (one image path per line)", list_file, paths.size() + 1);
    paths.push_back(line);
  }
  I2V_CHECK(!in.bad(), "cannot read {}", list_file);
  return paths;
}

// ---- reading ----------------------------------------------------------------------------------

CodeStore CodeStore::open(const std::string& path) {
  const File file = File::open_for_reading(path);
  CodeStore store;
  store.path_ = path;
  const uint64_t file_bytes = file.size();
  // Mapped first (the store unmaps it if a check below throws), then checked. The mapping stays
  // valid once the file is closed.
  if (file_bytes > 0) {
    void* mapping = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, file.descriptor(), 0);
    I2V_CHECK(mapping != MAP_FAILED, "cannot map {}: {}", path, std::strerror(errno));
    store.mapping_ = mapping;
    store.mapping_bytes_ = file_bytes;
  }
  const char* base = static_cast<const char*>(store.mapping_);
  Header h{};
  if (file_bytes > 0) std::memcpy(&h, base, std::min<uint64_t>(sizeof h, file_bytes));
  check_index_header(&h, file_bytes, kMagic, kVersion, path, "code store", "build one with `i2v index build`",
                     kOldestVersion);
  store.version_ = h.version;
  I2V_CHECK(h.header_bytes == sizeof h, "{}: inconsistent header: {} header bytes", path, h.header_bytes);
  check_bits(int64_t(std::min<uint64_t>(h.bits, INT64_MAX)), path);
  I2V_CHECK(h.count > 0 && h.count <= INT32_MAX, "{}: inconsistent header: {} codes", path, h.count);
  const Layout expected = layout_for(h.count, h.bits, h.paths_bytes);
  I2V_CHECK(h.codes_offset == expected.codes_offset && h.ids_offset == expected.ids_offset &&
                h.paths_offset == expected.paths_offset && h.file_bytes == expected.file_bytes,
            "{}: inconsistent header: {} codes of {} bits (+ {} bytes of paths) make a file of {} bytes with ids "
            "at {}, the header says {} bytes with ids at {}", path, h.count, h.bits, h.paths_bytes,
            expected.file_bytes, expected.ids_offset, h.file_bytes, h.ids_offset);
  check_index_file_size(file_bytes, h.file_bytes, path);
  store.count_ = int64_t(h.count);
  store.bits_ = int(h.bits);
  store.codes_ = reinterpret_cast<const uint64_t*>(base + h.codes_offset);
  store.ids_ = reinterpret_cast<const int64_t*>(base + h.ids_offset);
  const size_t code_bytes = h.count * (h.bits / 8);
  store.codes_checksum_ = crc32_of(store.codes_, code_bytes);
  I2V_CHECK(store.codes_checksum_ == h.codes_crc32, "{}: checksum mismatch in the codes (the file is corrupted)",
            path);
  I2V_CHECK(crc32_of(store.ids_, h.count * 8) == h.ids_crc32,
            "{}: checksum mismatch in the ids (the file is corrupted)", path);
  for (uint64_t r = 1; r < h.count; ++r)
    I2V_CHECK(store.ids_[r] > store.ids_[r - 1], "{}: ids not increasing at row {}", path, r);
  if (h.paths_bytes) {
    I2V_CHECK(crc32_of(base + h.paths_offset, h.paths_bytes) == h.paths_crc32,
              "{}: checksum mismatch in the image paths (the file is corrupted)", path);
    I2V_CHECK(h.paths_bytes >= (h.count + 1) * 8, "{}: inconsistent paths section", path);
    store.path_offsets_ = reinterpret_cast<const uint64_t*>(base + h.paths_offset);
    store.path_bytes_ = base + h.paths_offset + (h.count + 1) * 8;
    const uint64_t text_bytes = h.paths_bytes - (h.count + 1) * 8;
    for (uint64_t r = 0; r < h.count; ++r)
      I2V_CHECK(store.path_offsets_[r] <= store.path_offsets_[r + 1], "{}: inconsistent path offsets", path);
    I2V_CHECK(store.path_offsets_[0] == 0 && store.path_offsets_[h.count] == text_bytes,
              "{}: inconsistent path offsets", path);
  }
  return store;
}

CodeStore::CodeStore(CodeStore&& other) noexcept { *this = std::move(other); }

CodeStore& CodeStore::operator=(CodeStore&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    count_ = other.count_;
    bits_ = other.bits_;
    codes_ = other.codes_;
    ids_ = other.ids_;
    path_offsets_ = other.path_offsets_;
    path_bytes_ = other.path_bytes_;
    codes_checksum_ = other.codes_checksum_;
    version_ = other.version_;
  }
  return *this;
}

CodeStore::~CodeStore() { unmap(); }

void CodeStore::unmap() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
}

std::optional<int64_t> CodeStore::find_id(int64_t id) const {
  const int64_t* end = ids_ + count_;
  const int64_t* it = std::lower_bound(ids_, end, id);
  if (it == end || *it != id) return std::nullopt;
  return int64_t(it - ids_);
}

std::string_view CodeStore::image_path(int64_t row) const {
  if (!path_offsets_) return {};
  return std::string_view(path_bytes_ + path_offsets_[row], size_t(path_offsets_[row + 1] - path_offsets_[row]));
}

std::string CodeStore::image_file(int64_t row) const {
  const std::string stored(image_path(row));
  if (version_ < 2) return stored;
  return path_resolved_from(stored, std::filesystem::path(path_).parent_path().string());
}

std::optional<int64_t> CodeStore::find_path(std::string_view image_path_text) const {
  for (int64_t r = 0; r < count_ && path_offsets_; ++r)
    if (image_path(r) == image_path_text) return r;
  return std::nullopt;
}

}  // namespace i2v
