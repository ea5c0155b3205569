#include "train/tarball.h"

#include <climits>
#include <cstring>
#include <memory>

#include <stb_image.h>

#include "kernels/error.h"
#include "train/atomic_file.h"

namespace i2v {

namespace {

// The deflate stream of a gzip member (RFC 1952), inflated.
std::string gunzip(const std::string& data, const std::string& path) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  I2V_CHECK(data.size() >= 18 && p[2] == 8, "{}: not a deflate-compressed gzip file", path);
  const unsigned flags = p[3];
  size_t offset = 10;
  if (flags & 4) offset += 2 + size_t(p[offset] | p[offset + 1] << 8);  // FEXTRA
  for (unsigned flag : {8u, 16u})                                        // FNAME, FCOMMENT
    if (flags & flag) {
      while (offset < data.size() && p[offset] != 0) ++offset;
      ++offset;
    }
  if (flags & 2) offset += 2;  // FHCRC
  I2V_CHECK(offset + 8 <= data.size() && data.size() - offset <= size_t(INT_MAX), "{}: gzip header is cut off", path);
  const size_t stated_size = size_t(p[data.size() - 4]) | size_t(p[data.size() - 3]) << 8 |
                             size_t(p[data.size() - 2]) << 16 | size_t(p[data.size() - 1]) << 24;
  int inflated_size = 0;
  // The 8-byte trailer stays in the input: this stb_image's inflate refuses a stream whose last
  // code ends within 16 bits of the input's end; the end-of-block code stops it anyway.
  std::unique_ptr<char, void (*)(void*)> inflated(
      stbi_zlib_decode_malloc_guesssize_headerflag(data.data() + offset, int(data.size() - offset),
                                                   int(std::min<size_t>(std::max<size_t>(stated_size, 1 << 16), INT_MAX)),
                                                   &inflated_size, 0),
      free);
  I2V_CHECK(inflated != nullptr, "{}: corrupt or cut-off gzip data ({})", path,
            stbi_failure_reason() ? stbi_failure_reason() : "inflate failed");
  return std::string(inflated.get(), size_t(inflated_size));
}

uint64_t octal(const char* field, size_t length) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < length && field[i] == ' ') ++i;
  for (; i < length && field[i] >= '0' && field[i] <= '7'; ++i)
    value = value * 8 + uint64_t(field[i] - '0');
  return value;
}

std::string field(const char* text, size_t length) { return std::string(text, strnlen(text, length)); }

// A pax extended header's "path" record ("<length> path=<name>\n" records).
std::string pax_path(const std::string& records) {
  size_t i = 0;
  while (i < records.size()) {
    const size_t space = records.find(' ', i);
    if (space == std::string::npos) break;
    const size_t length = size_t(std::strtoull(records.c_str() + i, nullptr, 10));
    if (length == 0 || i + length > records.size()) break;
    const std::string record = records.substr(space + 1, i + length - space - 2);
    if (record.rfind("path=", 0) == 0) return record.substr(5);
    i += length;
  }
  return "";
}

}  // namespace

std::map<std::string, std::string> read_tarball(const std::string& path,
                                                const std::function<bool(const std::string& name)>& wanted) {
  const std::string raw = read_file(path);
  const bool gzipped = raw.size() >= 2 && static_cast<unsigned char>(raw[0]) == 0x1f && static_cast<unsigned char>(raw[1]) == 0x8b;
  const std::string tar = gzipped ? gunzip(raw, path) : raw;
  std::map<std::string, std::string> files;
  std::string long_name;
  size_t offset = 0;
  while (offset + 512 <= tar.size()) {
    const char* header = tar.data() + offset;
    if (header[0] == '\0') break;  // the end-of-archive zero blocks
    uint64_t checksum = 0;  // of the header with its checksum field read as spaces
    for (size_t i = 0; i < 512; ++i) checksum += i >= 148 && i < 156 ? ' ' : static_cast<unsigned char>(header[i]);
    I2V_CHECK(checksum == octal(header + 148, 8), "{}: not a tar archive (bad header checksum at byte {})", path, offset);
    const uint64_t size = octal(header + 124, 12);
    const char type = header[156];
    const size_t data_offset = offset + 512;
    I2V_CHECK(data_offset + size <= tar.size(), "{}: tar entry '{}' is cut off", path, field(header, 100));
    const auto data = [&] { return tar.substr(data_offset, size_t(size)); };
    std::string name = field(header + 345, 155);
    name = name.empty() ? field(header, 100) : name + "/" + field(header, 100);
    if (!long_name.empty()) {
      name = long_name;
      long_name.clear();
    }
    if (type == 'L') long_name = field(data().c_str(), size_t(size));  // GNU long name of the next entry
    else if (type == 'x') long_name = pax_path(data());                 // pax header of the next entry
    else if ((type == '0' || type == '\0') && wanted(name)) files[name] = data();
    offset = data_offset + (size_t(size) + 511) / 512 * 512;
  }
  I2V_CHECK(offset > 0, "{}: not a tar archive", path);
  return files;
}

}  // namespace i2v
