#include "data/tarball.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "base/error.h"

namespace i2v {

namespace {

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

// gzread's stream (it reads gzip-compressed and plain files alike), with errors named.
class Stream {
 public:
  explicit Stream(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb"), gzclose) {
    I2V_CHECK(file_ != nullptr, "cannot open {}: {}", path, std::strerror(errno));
    gzbuffer(file_.get(), 1 << 17);
  }
  // Up to `bytes` bytes (fewer only at the end of the data).
  size_t read(char* out, size_t bytes) {
    size_t done = 0;
    while (done < bytes) {
      const int n = gzread(file_.get(), out + done, unsigned(std::min<size_t>(bytes - done, 1 << 30)));
      if (n < 0) {
        int code = 0;
        I2V_THROW("{}: corrupt gzip data ({})", path_, gzerror(file_.get(), &code));
      }
      if (n == 0) break;
      done += size_t(n);
    }
    return done;
  }
  void read_exactly(char* out, size_t bytes, const std::string& entry) {
    I2V_CHECK(read(out, bytes) == bytes, "{}: the archive is cut off in '{}'", path_, entry);
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};

}  // namespace

std::map<std::string, std::string> read_tarball(const std::string& path,
                                                const std::function<bool(const std::string& name)>& wanted) {
  Stream stream(path);
  std::map<std::string, std::string> files;
  std::string long_name, skipped(1 << 16, '\0');
  char header[512];
  bool ended = false;
  for (int64_t offset = 0;; offset += 512) {
    const size_t got = stream.read(header, sizeof header);
    if (got == 0 || (got == 512 && header[0] == '\0')) {  // the end-of-archive zero blocks
      ended = got == 512;
      break;
    }
    I2V_CHECK(got == 512, "{}: the archive is cut off in a header", path);
    I2V_CHECK(tar_checksum_matches(header), "{}: not a tar archive (bad header checksum at byte {})", path, offset);
    const uint64_t size = tar_octal(header + 124, 12), padded = (size + 511) / 512 * 512;
    const char type = header[156];
    std::string name = field(header + 345, 155);
    name = name.empty() ? field(header, 100) : name + "/" + field(header, 100);
    if (!long_name.empty()) {
      name = long_name;
      long_name.clear();
    }
    const bool regular = type == '0' || type == '\0';
    if (type == 'L' || type == 'x' || (regular && wanted(name))) {
      // Read a piece at a time: the string grows with the bytes that arrive, never to a size the
      // header merely declares.
      std::string data;
      for (uint64_t left = padded; left > 0;) {
        const size_t chunk = size_t(std::min<uint64_t>(left, skipped.size()));
        stream.read_exactly(skipped.data(), chunk, name);
        data.append(skipped.data(), chunk);
        left -= chunk;
      }
      data.resize(size_t(size));
      if (type == 'L') long_name = field(data.data(), data.size());  // GNU long name of the next entry
      else if (type == 'x') long_name = pax_path(data);               // pax header of the next entry
      else files[name] = std::move(data);
    } else {
      for (uint64_t left = padded; left > 0;) {
        const size_t chunk = size_t(std::min<uint64_t>(left, skipped.size()));
        stream.read_exactly(skipped.data(), chunk, name);
        left -= chunk;
      }
    }
    offset += int64_t(padded);
  }
  I2V_CHECK(ended, "{}: the archive is cut off (no end-of-archive blocks)", path);
  return files;
}

uint64_t tar_octal(const char* field, size_t length) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < length && field[i] == ' ') ++i;
  for (; i < length && field[i] >= '0' && field[i] <= '7'; ++i) value = value * 8 + uint64_t(field[i] - '0');
  return value;
}

bool tar_checksum_matches(const char* header) {
  uint64_t checksum = 0;
  for (size_t i = 0; i < 512; ++i) checksum += i >= 148 && i < 156 ? ' ' : static_cast<unsigned char>(header[i]);
  return checksum == tar_octal(header + 148, 8);
}

}  // namespace i2v
