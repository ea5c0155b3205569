// Helpers for the search-index and .npy tests: random binary codes, expected errors, and running
// numpy through Debian's /usr/bin/python3 for cross-checks. (Scratch directories:
// tests/temp_directory.h.)
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/test_util.h"

namespace i2v::test {

// `count` random codes of `words` 64-bit words, row-major.
inline std::vector<uint64_t> random_codes(int64_t count, int words, std::mt19937_64& rng) {
  std::vector<uint64_t> codes(size_t(count) * size_t(words));
  for (uint64_t& w : codes) w = rng();
  return codes;
}

// Runs `body` and expects an i2v::Error whose message contains `fragment`.
template <typename F>
void expect_error(F body, const std::string& fragment) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// Runs a Python script with /usr/bin/python3; returns its exit status (0 on success).
inline int run_python(const std::string& script, const std::string& directory) {
  const std::string file = directory + "/script.py";
  std::ofstream(file) << script;
  return std::system(("/usr/bin/python3 " + file).c_str());
}

}  // namespace i2v::test
