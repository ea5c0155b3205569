// Progress lines when the output is not a terminal, and the number formats.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "base/progress.h"

namespace i2v {
namespace {

std::string contents(FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, file)) text += buffer;
  return text;
}

TEST(Progress, PlainLinesAtTenthsWithRateEtaAndSummary) {
  FILE* file = std::tmpfile();
  Progress progress("train", 1000, "img", 0, "", file);
  progress.update(50, "loss 0.5000");  // still in the first tenth: no line
  progress.update(250, "loss 0.5000");
  progress.update(260, "loss 0.4000");  // same tenth: no line
  progress.finish("done well");
  const std::string text = contents(file);
  EXPECT_NE(text.find("train 25% 250/1,000 img, "), std::string::npos) << text;
  EXPECT_NE(text.find("img/s, ETA "), std::string::npos) << text;
  EXPECT_NE(text.find("loss 0.5000"), std::string::npos) << text;
  EXPECT_EQ(text.find("loss 0.4000"), std::string::npos) << text;
  EXPECT_NE(text.find("train: 260 img in 0.0 s, done well"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no carriage returns in a log file";
  std::fclose(file);
}

TEST(Progress, RateInWorkUnits) {
  FILE* file = std::tmpfile();
  Progress progress("graph", 10, "queries", 1e6, "pairs", file);
  progress.update(5);
  progress.finish();
  EXPECT_NE(contents(file).find("pairs/s"), std::string::npos) << contents(file);
  std::fclose(file);
}

TEST(Progress, FormatsDurationsAndCounts) {
  EXPECT_EQ(format_duration(42.04), "42.0 s");
  EXPECT_EQ(format_duration(200), "3 min 20 s");
  EXPECT_EQ(format_duration(3723), "1 h 02 min");
  EXPECT_EQ(format_count(76003), "76,003");
  EXPECT_EQ(format_count(-1234567), "-1,234,567");
  EXPECT_EQ(format_count(12), "12");
}

}  // namespace
}  // namespace i2v
