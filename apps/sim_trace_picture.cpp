// Drawing a block's schedule (see sim_trace_picture.h).
#include "apps/sim_trace_picture.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include <fmt/format.h>

#include "apps/render.h"

namespace i2v {
namespace {

using simt::ScheduleEvent;
using Kind = ScheduleEvent::Kind;

struct Rgb {
  uint8_t r, g, b;
};

constexpr Rgb kRunnable{255, 255, 255};
constexpr Rgb kExited{205, 205, 205};
constexpr Rgb kRanToExit{25, 25, 25};
constexpr Rgb kMark{220, 30, 30};
constexpr Rgb kText{30, 30, 30};
constexpr Rgb kRight{20, 130, 40};
constexpr Rgb kWrong{200, 20, 20};

// Barrier n takes colour (n - 1) mod 8: neighbouring barriers always differ.
constexpr Rgb kBarrierColours[] = {{46, 139, 87},  {218, 165, 32}, {0, 139, 139},  {154, 205, 50},
                                   {160, 110, 40}, {95, 200, 140}, {107, 142, 35}, {205, 133, 63}};
constexpr unsigned kBarrierColourCount = sizeof kBarrierColours / sizeof kBarrierColours[0];

struct Family {
  const char* name;
  Rgb colour;
};
constexpr Family kFamilies[] = {{"shuffle", {30, 90, 220}},  {"vote", {140, 60, 200}}, {"syncwarp", {90, 90, 140}},
                                {"ldmatrix", {240, 120, 0}}, {"mma", {210, 30, 40}}};

int family_index(simt::WarpOp op) {
  using simt::WarpOp;
  switch (op) {
    case WarpOp::shfl_idx: case WarpOp::shfl_up: case WarpOp::shfl_down: case WarpOp::shfl_xor: return 0;
    case WarpOp::ballot: case WarpOp::any: case WarpOp::all: return 1;
    case WarpOp::sync: return 2;
    case WarpOp::mma_m16n8k8_tf32: case WarpOp::mma_m16n8k16_bf16: return 4;
    default: return 3;  // the ldmatrix variants
  }
}

Rgb barrier_colour(unsigned ordinal) { return kBarrierColours[(ordinal - 1) % kBarrierColourCount]; }

// What the thread waits in after it stopped: the same hue, mostly white.
Rgb pale(Rgb c) {
  auto mix = [](uint8_t v) { return uint8_t((3 * unsigned(v) + 7 * 255) / 10); };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

// The strong colour of a stop: where the thread's run ended.
Rgb stop_colour(const ScheduleEvent& e) {
  switch (e.kind) {
    case Kind::barrier: return barrier_colour(e.ordinal);
    case Kind::warp_collective: return kFamilies[family_index(e.op)].colour;
    default: return kRanToExit;
  }
}

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// When each barrier and each warp collective completed: the step of the arrival that made the
// count. Barrier n of a launch is every thread's n-th __syncthreads(); collective n of a warp is
// taken to be its lanes' n-th collectives, complete when every lane of the warp arrived (true of
// full-warp masks, the only kind the cases use; a collective that never makes the count is drawn
// as waiting until the thread resumes).
class Releases {
 public:
  Releases(const std::vector<ScheduleEvent>& events, unsigned threads) {
    for (const ScheduleEvent& e : events) {
      if (e.kind != Kind::barrier && e.kind != Kind::warp_collective) continue;
      const Key key = key_of(e);
      const unsigned warp_first = e.thread / 32 * 32;
      const unsigned needed = e.kind == Kind::barrier ? threads : std::min(32u, threads - warp_first);
      Count& count = counts_[key];
      if (++count.arrived == needed) count.release = e.step;
    }
  }

  // The step in which the barrier or collective `stop` waited in completed (kNever if it did not).
  uint64_t of(const ScheduleEvent& stop) const {
    const auto found = counts_.find(key_of(stop));
    return found == counts_.end() ? kNever : found->second.release;
  }

 private:
  using Key = std::tuple<unsigned, unsigned, unsigned, unsigned>;  // launch, kind, warp (collectives), ordinal
  struct Count {
    unsigned arrived = 0;
    uint64_t release = kNever;
  };
  static Key key_of(const ScheduleEvent& e) {
    const unsigned warp = e.kind == Kind::barrier ? 0 : e.thread / 32;
    return {e.launch, unsigned(e.kind), warp, e.ordinal};
  }
  std::map<Key, Count> counts_;
};

// Every (thread, step) cell of one run: its colour and whether the thread ran in that step.
class Timeline {
 public:
  Timeline(const std::vector<ScheduleEvent>& events, unsigned threads)
      : threads_(threads), steps_(events.empty() ? 0 : events.back().step + 1), cells_(threads_ * steps_) {
    const Releases releases(events, threads);
    struct Stop {
      uint64_t step = kNever;  // kNever: not started
      Rgb waiting = kRunnable;
      uint64_t release = kNever;
    };
    std::vector<Stop> stops(threads);
    for (const ScheduleEvent& e : events) {
      if (e.thread >= threads) continue;
      Stop& stop = stops[e.thread];
      if (e.kind == Kind::resume) {
        if (stop.step != kNever) paint_wait(e.thread, stop.step + 1, e.step, stop.waiting, stop.release);
        cell(e.thread, e.step).ran = true;
        continue;
      }
      cell(e.thread, e.step).colour = stop_colour(e);  // the last stop of a step wins
      stop.step = e.step;
      stop.waiting = e.kind == Kind::exit ? kExited : pale(stop_colour(e));
      stop.release = e.kind == Kind::exit ? kNever : releases.of(e);
    }
    for (unsigned t = 0; t < threads; ++t)
      if (stops[t].step != kNever) paint_wait(t, stops[t].step + 1, steps_, stops[t].waiting, stops[t].release);
  }

  uint64_t steps() const { return steps_; }

  // The colour of the steps [first, end) of `thread` drawn as one column: the first step it ran
  // in, if any, else the first step.
  Rgb column(unsigned thread, uint64_t first, uint64_t end) const {
    for (uint64_t s = first; s < end; ++s)
      if (cells_[index(thread, s)].ran) return cells_[index(thread, s)].colour;
    return cells_[index(thread, first)].colour;
  }

 private:
  struct Cell {
    Rgb colour = kRunnable;
    bool ran = false;
  };
  size_t index(unsigned thread, uint64_t step) const { return size_t(thread) * size_t(steps_) + size_t(step); }
  Cell& cell(unsigned thread, uint64_t step) { return cells_[index(thread, step)]; }

  // The steps [first, end) in which the thread waits: pale up to and including the step where its
  // barrier or collective completed, white (runnable) after.
  void paint_wait(unsigned thread, uint64_t first, uint64_t end, Rgb waiting, uint64_t release) {
    for (uint64_t s = first; s < end; ++s) cell(thread, s).colour = s <= release ? waiting : kRunnable;
  }

  size_t threads_;
  uint64_t steps_;
  std::vector<Cell> cells_;
};

void fill(Image& image, int x, int y, int w, int h, Rgb c) {
  const uint8_t colour[3] = {c.r, c.g, c.b};
  fill_rect(image, x, y, w, h, colour);
}

int text(Image& image, int x, int y, const std::string& s, Rgb c, int scale) {
  const uint8_t colour[3] = {c.r, c.g, c.b};
  return draw_text(image, x, y, s, colour, scale);
}

// Sizes shared by the panels, so that the same step is the same width in both.
constexpr int kMargin = 16, kRowLabels = 40, kGap = 32;
constexpr int kTargetColumns = 1000, kGridHeight = 384, kMaxCell = 14;
constexpr int kTitle = 2, kSmall = 1;  // text scales
constexpr int kLine = 8;               // font pixels of a line of text

struct Geometry {
  unsigned rows;
  uint64_t steps;
  uint64_t steps_per_column;
  int columns, column_width, row_height;
  int grid_width() const { return columns * column_width; }
  int grid_height() const { return int(rows) * row_height; }
};

Geometry geometry(uint64_t steps, unsigned rows) {
  Geometry g{};
  g.rows = rows;
  g.steps = std::max<uint64_t>(steps, 1);
  g.steps_per_column = (g.steps + kTargetColumns - 1) / kTargetColumns;
  g.columns = int((g.steps + g.steps_per_column - 1) / g.steps_per_column);
  g.column_width = std::clamp((kTargetColumns + g.columns / 2) / g.columns, 1, kMaxCell);  // rounded
  g.row_height = std::clamp(kGridHeight / int(rows), 1, 6);
  return g;
}

void draw_grid(Image& image, int x0, int y0, const Timeline& timeline, const Geometry& g,
               const std::vector<unsigned>& marked) {
  for (int c = 0; c < g.columns; ++c) {
    const uint64_t first = uint64_t(c) * g.steps_per_column;
    if (first >= timeline.steps()) break;
    const uint64_t end = std::min(first + g.steps_per_column, timeline.steps());
    for (unsigned t = 0; t < g.rows; ++t)
      fill(image, x0 + c * g.column_width, y0 + int(t) * g.row_height, g.column_width, g.row_height,
           timeline.column(t, first, end));
  }
  // A frame, so that white (runnable) cells at the edges are still inside something.
  const Rgb frame{120, 120, 120};
  fill(image, x0 - 1, y0 - 1, g.grid_width() + 2, 1, frame);
  fill(image, x0 - 1, y0 + g.grid_height(), g.grid_width() + 2, 1, frame);
  fill(image, x0 - 1, y0 - 1, 1, g.grid_height() + 2, frame);
  fill(image, x0 + g.grid_width(), y0 - 1, 1, g.grid_height() + 2, frame);
  for (unsigned t : marked)
    if (t < g.rows) fill(image, x0 - 6, y0 + int(t) * g.row_height, 4, std::max(g.row_height, 2), kMark);
  // Thread numbers at eight evenly spaced rows.
  const unsigned label_every = std::max(1u, g.rows / 8);
  for (unsigned t = 0; t < g.rows; t += label_every) {
    const std::string label = std::to_string(t);
    text(image, x0 - 8 - text_width(label, kSmall), y0 + int(t) * g.row_height, label, kText, kSmall);
  }
}

// The legend's entries: a swatch (strong and, for a stop, pale) and what it means.
struct LegendEntry {
  Rgb strong;
  bool with_pale;
  bool outlined;
  std::string meaning;
};

std::vector<LegendEntry> legend_entries(const std::vector<SchedulePanel>& panels) {
  unsigned barriers = 0;
  std::vector<bool> families(std::size(kFamilies), false);
  bool marks = false;
  std::string mark_meaning;
  for (const SchedulePanel& panel : panels) {
    for (const ScheduleEvent& e : *panel.events) {
      if (e.kind == Kind::barrier) barriers = std::max(barriers, e.ordinal);
      if (e.kind == Kind::warp_collective) families[size_t(family_index(e.op))] = true;
    }
    if (!panel.marked_threads.empty()) {
      marks = true;
      mark_meaning = panel.mark_meaning;
    }
  }
  std::vector<LegendEntry> entries;
  entries.push_back({kRunnable, false, true, "runnable, not running"});
  for (unsigned b = 1; b <= std::min(barriers, kBarrierColourCount); ++b)
    entries.push_back({barrier_colour(b), true, false,
                       b == kBarrierColourCount && barriers > b ? fmt::format("barrier {} (then the colours repeat)", b)
                                                                : fmt::format("barrier {}", b)});
  for (size_t f = 0; f < families.size(); ++f)
    if (families[f]) entries.push_back({kFamilies[f].colour, true, false, kFamilies[f].name});
  entries.push_back({kRanToExit, false, false, "ran to its exit"});
  entries.push_back({kExited, false, false, "exited"});
  if (marks) entries.push_back({kMark, false, false, mark_meaning});
  return entries;
}

constexpr int kSwatch = 12;

// Draws the legend from (x, y) within `width` (or only measures it when `image` is empty);
// returns its height.
int draw_legend(Image& image, int x, int y, int width, const std::vector<LegendEntry>& entries) {
  const int line = kLine * kTitle + 8;
  int height = text(image, x, y, "strong: ran up to it in that step;  pale: waits there until it completes", kText,
                    kTitle) > 0
                   ? line
                   : 0;
  int cx = x;
  for (const LegendEntry& entry : entries) {
    const int entry_width = kSwatch * (entry.with_pale ? 2 : 1) + 6 + text_width(entry.meaning, kTitle) + 24;
    if (cx > x && cx + entry_width > x + width) {
      cx = x;
      height += line;
    }
    const int sy = y + height;
    if (entry.outlined) fill(image, cx - 1, sy - 1, kSwatch + 2, kSwatch + 2, Rgb{120, 120, 120});
    fill(image, cx, sy, kSwatch, kSwatch, entry.strong);
    int tx = cx + kSwatch;
    if (entry.with_pale) {
      fill(image, tx, sy, kSwatch, kSwatch, pale(entry.strong));
      tx += kSwatch;
    }
    text(image, tx + 6, sy, entry.meaning, kText, kTitle);
    cx += entry_width;
  }
  return height + line;
}

}  // namespace

const char* warp_op_family(simt::WarpOp op) { return kFamilies[family_index(op)].name; }

Image draw_schedule_panels(const std::string& title, const std::vector<SchedulePanel>& panels, unsigned threads,
                           unsigned rows) {
  rows = std::clamp(rows, 1u, threads);
  std::vector<Timeline> timelines;
  uint64_t steps = 0;
  for (const SchedulePanel& panel : panels) {
    timelines.emplace_back(*panel.events, threads);
    steps = std::max(steps, timelines.back().steps());
  }
  const Geometry g = geometry(steps, rows);
  const int panel_width = kRowLabels + g.grid_width();
  const int title_line = kLine * kTitle + 8, small_line = kLine * kSmall + 6;

  const int width = kMargin * 2 + int(panels.size()) * panel_width + (int(panels.size()) - 1) * kGap;
  const std::vector<LegendEntry> entries = legend_entries(panels);
  Image measure;
  const int legend_height = draw_legend(measure, 0, 0, width - 2 * kMargin, entries);
  const int grid_top = kMargin + 2 * title_line;
  const uint8_t white[3] = {255, 255, 255};
  Image image = blank(width, grid_top + g.grid_height() + small_line + 2 * title_line + legend_height + kMargin, white);

  text(image, kMargin, kMargin, title, kText, kTitle);
  const std::string scale_note =
      g.steps_per_column > 1 ? fmt::format("; a column is {} steps", g.steps_per_column) : std::string();
  for (size_t p = 0; p < panels.size(); ++p) {
    const SchedulePanel& panel = panels[p];
    const int x0 = kMargin + int(p) * (panel_width + kGap) + kRowLabels;
    text(image, x0, kMargin + title_line, panel.title, kText, kTitle);
    draw_grid(image, x0, grid_top, timelines[p], g, panel.marked_threads);
    const int below = grid_top + g.grid_height() + 4;
    text(image, x0, below,
         fmt::format("time: {} steps (one resume each) ->{}", timelines[p].steps(), scale_note), kText, kSmall);
    text(image, x0 - kRowLabels, below, "thread", kText, kSmall);
    text(image, x0, below + small_line, panel.result, panel.right ? kRight : kWrong, kTitle);
  }
  draw_legend(image, kMargin, grid_top + g.grid_height() + small_line + 2 * title_line, image.width - 2 * kMargin,
              entries);
  return image;
}

}  // namespace i2v
