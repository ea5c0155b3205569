#include "train/progress.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace i2v {

Progress::Progress(std::string what, int64_t total, std::string unit, FILE* out, double line_seconds)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), out_(out), terminal_(isatty(fileno(out)) != 0),
      line_seconds_(line_seconds), start_(std::chrono::steady_clock::now()), last_print_(start_) {}

std::string Progress::format_duration(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string Progress::line(int64_t done, const std::string& extra) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  std::string text = what_;
  if (total_ > 0) {
    const double fraction = std::clamp(double(done) / double(total_), 0.0, 1.0);
    if (terminal_) {
      const int width = 24, filled = int(fraction * width);
      text += " [" + std::string(size_t(filled), '=') + (filled < width ? ">" : "") +
              std::string(size_t(std::max(0, width - filled - 1)), ' ') + "]";
    }
    text += fmt::format(" {:3.0f}% {}/{} {}", 100 * fraction, done, total_, unit_);
  } else {
    text += fmt::format(" {} {}", done, unit_);
  }
  text += fmt::format(", {:.1f} {}/s", rate, unit_);
  if (total_ > 0 && rate > 0 && done < total_) text += ", ETA " + format_duration(double(total_ - done) / rate);
  if (!extra.empty()) text += ", " + extra;
  return text;
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (terminal_) {
    if (printed_ && since < 0.1) return;
    std::fprintf(out_, "\r\033[K%s", line(done, extra).c_str());
  } else {
    if (since < line_seconds_) return;
    std::fprintf(out_, "%s\n", line(done, extra).c_str());
  }
  std::fflush(out_);
  printed_ = true;
  last_print_ = now;
}

void Progress::finish(const std::string& summary) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_ && printed_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s: %lld %s in %s%s%s\n", what_.c_str(), static_cast<long long>(done_), unit_.c_str(),
               format_duration(elapsed).c_str(), summary.empty() ? "" : ", ", summary.c_str());
  std::fflush(out_);
}

}  // namespace i2v
