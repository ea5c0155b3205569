// What the tests may leave out is a checked rule: a test skips only when the machine lacks the
// hardware it needs — a CUDA GPU, a CPU with AVX-512 — so that `./run.sh test` on a machine
// without a GPU skips nothing but the cuda device. A test that needs a program or a package
// (Python with numpy, torch or protobuf for the cross-checks) fails without it, naming the Debian
// packages, which ./run.sh installs. This test reads every GTEST_SKIP of tests/ and fails on one
// whose line does not ask for such hardware.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "tests/temp_directory.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// The calls that ask whether the hardware a test needs is present.
const std::vector<std::string> kHardwareChecks = {"cuda_available()", "cpu_has_avx512f()", "cpu_has_avx512_bf16()",
                                                  "cpu_has_amx_bf16()"};

// "file:line: text" of each GTEST_SKIP under `directory` whose line does not ask for hardware.
std::vector<std::string> skips_without_hardware(const fs::path& directory) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string extension = entry.path().extension().string();
    if (!entry.is_regular_file() || (extension != ".cpp" && extension != ".h") ||
        entry.path().filename() == "test_policy_test.cpp")
      continue;
    std::ifstream in(entry.path());
    std::string text;
    for (int line = 1; std::getline(in, text); ++line) {
      const size_t skip = text.find("GTEST_SKIP");
      if (skip == std::string::npos || text.find("//") < skip) continue;
      bool hardware = false;
      for (const std::string& check : kHardwareChecks) hardware = hardware || text.find(check) != std::string::npos;
      if (!hardware) found.push_back(entry.path().filename().string() + ":" + std::to_string(line) + ": " + text);
    }
  }
  return found;
}

TEST(TestPolicy, OnlyMissingHardwareSkipsATest) {
  const std::vector<std::string> found = skips_without_hardware(fs::path(I2V_SOURCE_DIR) / "tests");
  for (const std::string& skip : found)
    ADD_FAILURE() << skip << "\n  a test may skip only for missing hardware (" << fmt::format("{}", fmt::join(kHardwareChecks, ", "))
                  << "); for a missing package, FAIL() naming it and add it to run.sh";
}

// The rule itself catches a skip for a missing package and lets a hardware skip through.
class TestPolicyRule : public test::TempDirectoryTest {};

TEST_F(TestPolicyRule, ASkipForAMissingPackageIsReported) {
  std::ofstream(dir_ / "a_test.cpp") << "TEST(A, B) {\n  if (!cuda_available()) GTEST_SKIP() << \"no GPU\";\n"
                                        "  if (!numpy()) GTEST_SKIP() << \"no numpy\";\n  // GTEST_SKIP in a comment\n}\n";
  const std::vector<std::string> found = skips_without_hardware(dir_);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rfind("a_test.cpp:3: ", 0), 0u) << found[0];
}

}  // namespace
}  // namespace i2v
