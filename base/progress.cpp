#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace i2v {

Progress::Progress(std::string what, int64_t total, std::string unit, double work_per_item, std::string work_unit,
                   FILE* out)
    : what_(std::move(what)), unit_(std::move(unit)), work_unit_(std::move(work_unit)), total_(total),
      work_per_item_(work_per_item), out_(out), terminal_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::rate_text(int64_t done, double seconds) const {
  if (seconds <= 0) return "";
  const double per_second = double(done) / seconds;
  if (work_per_item_ > 0) return fmt::format("{:.3g} {}/s", per_second * work_per_item_, work_unit_);
  return fmt::format("{:.1f} {}/s", per_second, unit_.empty() ? "items" : unit_);
}

std::string Progress::line(int64_t done, const std::string& extra) const {
  const double seconds = elapsed_seconds();
  const std::string unit = unit_.empty() ? "" : " " + unit_;
  std::string text = what_;
  if (total_ > 0) {
    const double fraction = std::clamp(double(done) / double(total_), 0.0, 1.0);
    if (terminal_) {
      const int width = 24, filled = int(fraction * width);
      text += " [" + std::string(size_t(filled), '=') + (filled < width ? ">" : "") +
              std::string(size_t(std::max(0, width - filled - 1)), ' ') + "]";
    }
    text += fmt::format(" {:.0f}% {}/{}{}", 100 * fraction, format_count(done), format_count(total_), unit);
  } else {
    text += fmt::format(" {}{}", format_count(done), unit);
  }
  if (done > 0 && seconds > 0) {
    text += ", " + rate_text(done, seconds);
    if (total_ > 0 && done < total_)
      text += ", ETA " + format_duration(double(total_ - done) * seconds / double(done));
  }
  if (!extra.empty()) text += ", " + extra;
  return text;
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (terminal_) {
    if (printed_ && since < 0.1) return;
    std::fprintf(out_, "\r%s\033[K", line(done, extra).c_str());
  } else {
    const int tenth = total_ > 0 ? int(10 * std::clamp(double(done) / double(total_), 0.0, 1.0)) : 0;
    if (tenth == last_tenth_ && since < 30.0) return;
    last_tenth_ = tenth;
    std::fprintf(out_, "%s\n", line(done, extra).c_str());
  }
  std::fflush(out_);
  printed_ = true;
  last_print_ = now;
}

void Progress::finish(const std::string& summary) {
  const double seconds = elapsed_seconds();
  std::string text = fmt::format("{}: {}{} in {}", what_, format_count(done_), unit_.empty() ? "" : " " + unit_,
                                 format_duration(seconds));
  if (work_per_item_ > 0) text += " (" + rate_text(done_, seconds) + ")";
  if (!summary.empty()) text += ", " + summary;
  std::fprintf(out_, terminal_ && printed_ ? "\r%s\033[K\n" : "%s\n", text.c_str());
  std::fflush(out_);
}

}  // namespace i2v
