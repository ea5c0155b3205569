#include "apps/trace_timeline.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "apps/render.h"

namespace i2v {
namespace {

constexpr int kMargin = 16, kLabelWidth = 120, kRow = 16, kTrackGap = 12, kLine = 14;
constexpr uint8_t kWhite[3] = {255, 255, 255}, kText[3] = {30, 30, 30}, kGrid[3] = {222, 222, 222},
                  kTrack[3] = {246, 246, 246};

// A colour per name, the same in every picture (an FNV-1a hash of the name picks the hue).
void name_colour(const std::string& name, uint8_t out[3]) {
  uint64_t hash = 1469598103934665603ull;
  for (const char c : name) hash = (hash ^ uint8_t(c)) * 1099511628211ull;
  label_colour(int64_t(hash % 1009), out);
}

// One track: the spans of a host thread, or the launches of a GPU device from one host thread,
// each at the depth it nests at (a span inside another is drawn under it).
struct Track {
  std::string label;
  std::vector<const trace::Event*> spans;
  std::vector<int> depths;
  int rows = 0;
};

std::vector<Track> tracks_in(const std::vector<trace::Event>& events, double from_us, double to_us) {
  std::map<std::pair<int, int>, Track> by_key;  // (0, thread) the host's; (1 + device, thread) launches
  for (const trace::Event& e : events) {
    if (e.start_us > to_us || e.start_us + e.duration_us < from_us) continue;
    const bool gpu_launch = e.kind == trace::Kind::launch && e.has_shape;
    Track& track = by_key[{gpu_launch ? 1 + int(e.device) : 0, e.thread}];
    if (track.label.empty())
      track.label = gpu_launch ? fmt::format("{} launches", Device{e.device}.name()) : "host";
    track.spans.push_back(&e);
  }
  std::vector<Track> tracks;
  for (auto& [key, track] : by_key) {
    if (key.second > 0) track.label += fmt::format(" ({})", key.second);
    std::stable_sort(track.spans.begin(), track.spans.end(), [](const trace::Event* a, const trace::Event* b) {
      return a->start_us < b->start_us || (a->start_us == b->start_us && a->duration_us > b->duration_us);
    });
    std::vector<double> open_ends;  // of the spans around the current one
    for (const trace::Event* e : track.spans) {
      while (!open_ends.empty() && open_ends.back() <= e->start_us + 1e-3) open_ends.pop_back();
      track.depths.push_back(int(open_ends.size()));
      track.rows = std::max(track.rows, int(open_ends.size()) + 1);
      open_ends.push_back(e->start_us + e->duration_us);
    }
    tracks.push_back(std::move(track));
  }
  return tracks;
}

// A step of 1, 2 or 5 × 10^k ms giving about `ticks` ticks over `span_ms`.
double tick_step(double span_ms, int ticks) {
  const double raw = span_ms / ticks, power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

}  // namespace

Image draw_trace_timeline(const std::vector<trace::Event>& events, double from_us, double to_us, int width,
                          const std::string& title) {
  const std::vector<Track> tracks = tracks_in(events, from_us, to_us);
  // The legend: the kernels with the most launch time in the window.
  std::map<std::string, double> kernel_us;
  for (const Track& track : tracks)
    for (const trace::Event* e : track.spans)
      if (e->kind == trace::Kind::launch)
        kernel_us[e->name == e->op ? e->name : fmt::format("{} ({})", e->name, e->op)] +=
            std::min(e->start_us + e->duration_us, to_us) - std::max(e->start_us, from_us);
  std::vector<std::pair<double, std::string>> legend;
  for (const auto& [name, us] : kernel_us) legend.emplace_back(us, name);
  std::sort(legend.rbegin(), legend.rend());
  legend.resize(std::min<size_t>(legend.size(), 8));

  int height = kMargin + 2 * kLine;
  for (const Track& track : tracks) height += track.rows * kRow + kTrackGap;
  height += 2 * kLine + kLine * int(legend.size() + 1) + kMargin;
  Image image = blank(width, height, kWhite);
  draw_text(image, kMargin, kMargin, title, kText);

  const int plot_x = kMargin + kLabelWidth, plot_width = width - plot_x - kMargin;
  const double span_us = std::max(to_us - from_us, 1e-3);
  auto x_of = [&](double us) { return plot_x + int(std::lround((us - from_us) / span_us * plot_width)); };
  const int plot_top = kMargin + 2 * kLine, plot_bottom = height - 2 * kLine - kLine * int(legend.size() + 1) - kMargin;

  // The time axis: grid lines through the tracks, labels in ms from the window's start.
  const double step_ms = tick_step(span_us / 1000, 8);
  for (double t = 0; t <= span_us / 1000 + 1e-9; t += step_ms) {
    const int x = x_of(from_us + t * 1000);
    fill_rect(image, x, plot_top, 1, plot_bottom - plot_top, kGrid);
    const std::string label = fmt::format("{:g} ms", t);
    draw_text(image, std::min(x - 4, width - kMargin - text_width(label)), plot_bottom + 4, label, kText);
  }
  int y = plot_top;
  for (const Track& track : tracks) {
    fill_rect(image, plot_x, y, plot_width, track.rows * kRow, kTrack);
    draw_text(image, kMargin, y + 4, track.label, kText);
    for (size_t i = 0; i < track.spans.size(); ++i) {
      const trace::Event& e = *track.spans[i];
      const int x0 = x_of(std::max(e.start_us, from_us)), x1 = x_of(std::min(e.start_us + e.duration_us, to_us));
      const int bar_y = y + track.depths[i] * kRow + 1, bar_width = std::max(1, x1 - x0);
      uint8_t colour[3];
      name_colour(e.name, colour);
      fill_rect(image, x0, bar_y, bar_width, kRow - 2, colour);
      // A name that fits its bar is written in it.
      if (text_width(e.name) + 6 <= bar_width) draw_text(image, x0 + 3, bar_y + 4, e.name, kWhite);
    }
    y += track.rows * kRow + kTrackGap;
  }
  int legend_y = plot_bottom + 2 * kLine;
  draw_text(image, kMargin, legend_y, "kernels with the most time in this window:", kText);
  for (const auto& [us, name] : legend) {
    legend_y += kLine;
    uint8_t colour[3];
    name_colour(name.substr(0, name.find(" (")), colour);
    fill_rect(image, kMargin, legend_y, 10, 8, colour);
    draw_text(image, kMargin + 16, legend_y, fmt::format("{}: {:.3f} ms", name, us / 1000), kText);
  }
  return image;
}

}  // namespace i2v
