// Progress of long work for people watching: on a terminal a bar redrawn in place (at most 10
// times a second) with the rate and the ETA; when the output is not a terminal (a log file, CI),
// one plain line every `line_seconds` and at the end.
//
//   Progress progress("train", total_images, "img");
//   progress.update(done, fmt::format("loss {:.4f}", loss));
//   ...
//   progress.finish("best mAP 0.41");
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace i2v {

class Progress {
 public:
  Progress(std::string what, int64_t total, std::string unit, FILE* out = stderr, double line_seconds = 10.0);
  // `done` of `total` are finished; `extra` is shown after the rate (e.g. the loss).
  void update(int64_t done, const std::string& extra = "");
  // Ends the bar (with a newline on a terminal) and prints the time taken and `summary`.
  void finish(const std::string& summary = "");

  // "1:02:03" / "2:03".
  static std::string format_duration(double seconds);

 private:
  std::string line(int64_t done, const std::string& extra) const;

  std::string what_, unit_;
  int64_t total_;
  FILE* out_;
  bool terminal_;
  double line_seconds_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool printed_ = false;
  int64_t done_ = 0;
};

}  // namespace i2v
