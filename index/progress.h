// Progress and ETA of long work on stderr: "graph: 30,720/76,003 (40%) 1.2e9 pairs/s, ETA 6 s".
// On a terminal the line is redrawn in place (at most 4 times a second); otherwise a line is
// printed at every 10% so logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace i2v {

class ProgressMeter {
 public:
  // `what` names the work; `work_per_item` (e.g. database rows per query) turns items into the
  // rate shown, labelled `rate_unit` ("pairs"); 0 shows items per second instead.
  ProgressMeter(std::string what, int64_t total, double work_per_item = 0, std::string rate_unit = "");
  void update(int64_t done);
  // Prints the final line: total time and rate.
  void finish();
  double elapsed_seconds() const;

 private:
  std::string line(int64_t done) const;

  std::string what_, rate_unit_;
  int64_t total_;
  double work_per_item_;
  bool terminal_;
  int last_decile_ = -1;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1.2 s", "3 min 20 s", "1 h 05 min".
std::string format_duration(double seconds);
// 76003 → "76,003".
std::string format_count(int64_t n);

}  // namespace i2v
