#include "index/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace i2v {

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const int64_t s = int64_t(std::lround(seconds));
  if (s < 3600) return fmt::format("{} min {:02d} s", s / 60, s % 60);
  return fmt::format("{} h {:02d} min", s / 3600, (s % 3600) / 60);
}

std::string format_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

ProgressMeter::ProgressMeter(std::string what, int64_t total, double work_per_item, std::string rate_unit)
    : what_(std::move(what)),
      rate_unit_(std::move(rate_unit)),
      total_(total),
      work_per_item_(work_per_item),
      terminal_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double ProgressMeter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressMeter::line(int64_t done) const {
  const double elapsed = elapsed_seconds();
  std::string text = fmt::format("{}: {}/{} ({:.0f}%)", what_, format_count(done), format_count(total_),
                                 total_ ? 100.0 * double(done) / double(total_) : 100.0);
  if (elapsed > 0 && done > 0) {
    const double items_per_second = double(done) / elapsed;
    text += work_per_item_ > 0 ? fmt::format(", {:.3g} {}/s", items_per_second * work_per_item_, rate_unit_)
                               : fmt::format(", {:.3g}/s", items_per_second);
    if (done < total_) text += ", ETA " + format_duration(double(total_ - done) / items_per_second);
  }
  return text;
}

void ProgressMeter::update(int64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - last_draw_ < std::chrono::milliseconds(250) && done < total_) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r%s\033[K", line(done).c_str());
  } else {
    if (done >= total_) return;  // finish() prints the last line
    const int decile = total_ ? int(10 * done / total_) : 10;
    if (decile == last_decile_) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s\n", line(done).c_str());
  }
  std::fflush(stderr);
}

void ProgressMeter::finish() {
  const double elapsed = elapsed_seconds();
  std::string text = fmt::format("{}: {} in {}", what_, format_count(done_), format_duration(elapsed));
  if (elapsed > 0 && work_per_item_ > 0)
    text += fmt::format(" ({:.3g} {}/s)", double(done_) * work_per_item_ / elapsed, rate_unit_);
  std::fprintf(stderr, terminal_ ? "\r%s\033[K\n" : "%s\n", text.c_str());
}

}  // namespace i2v
