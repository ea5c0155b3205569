// Progress of long work for people watching, on stderr: on a terminal a bar redrawn in place (at
// most 10 times a second) with the rate and the ETA; when the output is not a terminal (a log
// file, CI), a plain line at every tenth of the work or every 30 s, and one at the end.
//
//   Progress progress("train", total_images, "img");
//   progress.update(done, fmt::format("loss {:.4f}", loss));   // "train [====>   ] 40% 2,400/6,000 img, 310 img/s, ETA 0:12, loss 0.1234"
//   progress.finish("best mAP 0.41");                           // "train: 6,000 img in 19.4 s, best mAP 0.41"
// A rate in other units: Progress("graph", queries, "queries", /*work_per_item=*/n - 1, "pairs")
// shows pairs/s.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "base/text.h"

namespace i2v {

class Progress {
 public:
  Progress(std::string what, int64_t total, std::string unit = "", double work_per_item = 0,
           std::string work_unit = "", FILE* out = stderr);
  // `done` of `total` are finished; `extra` follows the rate (e.g. the loss).
  void update(int64_t done, const std::string& extra = "");
  // Ends the bar and prints the count, the time taken and `summary`.
  void finish(const std::string& summary = "");
  double elapsed_seconds() const;

 private:
  std::string line(int64_t done, const std::string& extra) const;
  std::string rate_text(int64_t done, double seconds) const;

  std::string what_, unit_, work_unit_;
  int64_t total_;
  double work_per_item_;
  FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool printed_ = false;
  int last_tenth_ = 0;
  int64_t done_ = 0;
};

}  // namespace i2v
