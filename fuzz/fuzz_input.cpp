#include "fuzz/fuzz_input.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "base/crc32.h"

namespace i2v::fuzz {
namespace {

namespace fs = std::filesystem;

// Removes the scratch directory when the process ends normally (libFuzzer's -runs, -max_total_time).
struct ScratchDirectory {
  std::string path;
  ScratchDirectory() {
    const char* tmp = std::getenv("TMPDIR");
    path = (fs::path(tmp && *tmp ? tmp : "/tmp") / ("i2v_fuzz_" + std::to_string(::getpid()))).string();
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

const std::string& scratch_directory() {
  static const ScratchDirectory directory;
  return directory.path;
}

InputFile::InputFile(const uint8_t* data, size_t size, const std::string& extension)
    : path_(scratch_directory() + "/input." + extension) {
  std::FILE* file = std::fopen(path_.c_str(), "wb");
  if (!file || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0)
    finding("cannot write the input file", path_);
}

InputFile::~InputFile() { ::unlink(path_.c_str()); }

void put_crc32(std::string& bytes, size_t field, uint64_t begin, uint64_t length) {
  if (field + 4 > bytes.size() || begin > bytes.size() || length > bytes.size() - begin) return;
  const uint32_t crc = crc32_of(bytes.data() + begin, size_t(length));
  std::memcpy(&bytes[field], &crc, 4);
}

uint64_t read_le(const std::string& bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width && offset + i < bytes.size(); ++i) value |= uint64_t(uint8_t(bytes[offset + i])) << (8 * i);
  return value;
}

void note_refusal(const Error& error) {
  static const bool verbose = std::getenv("I2V_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "==fuzz== refused: %s\n", error.message().c_str());
}

void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "==fuzz== finding: %s\n%s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

namespace {

uint64_t octal(const char* field, size_t length) {
  uint64_t value = 0;
  for (size_t i = 0; i < length && field[i] >= '0' && field[i] <= '7'; ++i) value = value * 8 + uint64_t(field[i] - '0');
  return value;
}

}  // namespace

std::string with_tar_checksums(std::string bytes) {
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


}  // namespace i2v::fuzz
