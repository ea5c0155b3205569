// Progress lines when the output is not a terminal.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "train/progress.h"

namespace i2v {
namespace {

std::string contents(FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, file)) text += buffer;
  return text;
}

TEST(Progress, PlainLinesWithRateEtaAndSummary) {
  FILE* file = std::tmpfile();
  Progress progress("train", 100, "img", file, /*line_seconds=*/0.0);
  progress.update(25, "loss 0.5000");
  progress.finish("done well");
  const std::string text = contents(file);
  EXPECT_NE(text.find("train  25% 25/100 img"), std::string::npos) << text;
  EXPECT_NE(text.find("img/s"), std::string::npos) << text;
  EXPECT_NE(text.find("loss 0.5000"), std::string::npos) << text;
  EXPECT_NE(text.find("train: 25 img in 0:00, done well"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no carriage returns in a log file";
  std::fclose(file);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(59.6), "1:00");
  EXPECT_EQ(Progress::format_duration(3723), "1:02:03");
}

}  // namespace
}  // namespace i2v
