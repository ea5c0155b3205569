// What every fuzz target shares: the fuzzer's bytes as a file (the parsers read paths, as a user
// gives them), and the rule every parser keeps for bad bytes — an i2v::Error whose message names
// the file. Anything else is a finding: a crash, a leak or undefined behaviour (the sanitizers),
// another exception escaping (std::terminate), or an error that does not say which file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/error.h"

namespace i2v::fuzz {

// The bytes as a file of this process (in $TMPDIR, else /tmp), rewritten for each input and
// removed when the object goes.
class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size, const std::string& extension);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A directory of this process for the files a target builds once (removed at exit).
const std::string& scratch_directory();

// For the formats with checksums (code stores, graphs): the fuzzer's bytes with the CRC-32 of
// the range [begin, begin + length) written at `field`, when the range lies in the bytes, so
// that mutated contents get past the checksums to the checks behind them. The index header's
// own CRC-32 (its last 4 bytes) is sealed last by seal_index_header (index/binary_file.h).
void put_crc32(std::string& bytes, size_t field, uint64_t begin, uint64_t length);
// A little-endian integer of the bytes at `offset` (0 past the end).
uint64_t read_le(const std::string& bytes, size_t offset, size_t width);

// Aborts (a finding: libFuzzer keeps the input) with `what` and the error's text.
[[noreturn]] void finding(const char* what, const std::string& detail);

// Prints the refusal when I2V_FUZZ_VERBOSE is set (to see why a seed does not get far).
void note_refusal(const Error& error);

// Runs `parse`. An i2v::Error is the expected answer to bad bytes when its message names `name`
// (the file, or what the parser was told the bytes are); one that does not is a finding. Other
// exceptions are not caught: they end the process, which libFuzzer reports.
template <typename Parse>
void expect_clean_error(const std::string& name, Parse parse) {
  try {
    parse();
  } catch (const Error& error) {
    note_refusal(error);
    if (error.message().find(name) == std::string::npos) finding("an error that does not name the file", error.what());
  }
}

// `bytes` with the ustar checksum of each 512-byte header made right, walking the headers as a
// tar reader does (six octal digits, NUL, space), so that mutations of sizes, names and types
// get past the checksums.
std::string with_tar_checksums(std::string bytes);

}  // namespace i2v::fuzz
