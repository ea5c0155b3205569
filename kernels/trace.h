// A trace of every kernel launch (`--trace FILE`, or I2V_TRACE=FILE, on every command that runs a
// network): what ran, on which device, with which launch shape, for how long.
//
// Three kinds of span, nested on the thread that runs them:
//   - a *layer* span: one layer's forward or backward (nn/model.cpp), or a training step;
//   - an *op*: one kernel function called through I2V_DISPATCH (kernels/dispatch.h), by the name
//     it has in the source (`conv_forward`, `relu_backward`);
//   - a *launch*: one kernel run. On the cpu an op is its own launch (no grid). On sim and cuda
//     each I2V_LAUNCH of a GPU kernel is one (kernels/gpu.cuh), with its grid, block and dynamic
//     shared memory, timed by wall clock on sim and by CUDA events on cuda.
// Timing on cuda waits for each launch to end (cudaEventSynchronize), so a traced run shows each
// kernel's own time, not how launches overlap the host: a trace is for finding where time goes.
//
// The file holds one JSON object per line ("type": "layer", "op" or "launch"; times in µs since
// the trace began), then the summary lines ("type": "summary", one per kernel, most time first).
// `i2v trace chrome FILE` turns it into the Chrome trace-event format (chrome://tracing, Perfetto).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/device.h"

namespace i2v::trace {

enum class Kind { layer, op, launch };

struct Event {
  Kind kind = Kind::launch;
  std::string name;    // layer: "conv1_1.forward"; op: "conv_forward"; launch: the kernel's name
  std::string op;      // launch: the op that made it (empty when launched outside one)
  DeviceType device = DeviceType::cpu;
  bool has_shape = false;                  // a GPU launch: grid, block and shared memory are known
  std::array<unsigned, 3> grid{}, block{};
  size_t shared_bytes = 0;
  double start_us = 0, duration_us = 0;
  int thread = 0;                          // the host thread, numbered in order of first event
};

// Whether a trace is being recorded. Every hook checks this first, so an untraced run pays one
// relaxed atomic load per dispatch.
extern std::atomic<bool> recording;
inline bool enabled() { return recording.load(std::memory_order_relaxed); }

// Starts recording into `path` (written atomically at finish()). Throws if one is already running.
void start(const std::string& path);
// Stops, writes the file (events, then the summary) and returns the summary table of the kernels
// and layers that took the most time, or "" when no trace was running.
std::string finish();

// Microseconds since the trace began.
double now_us();
// The small number of the calling host thread.
int thread_number();

// A layer or op span, or a cpu kernel launch: recorded when it ends, if a trace is running (the
// name is copied only then). The launches inside an op span are attributed to it.
class Span {
 public:
  Span(Kind kind, const char* name, Device device) {
    if (enabled()) begin(kind, name, device);
  }
  // A layer's span: name + suffix ("conv1_1" ".forward"), joined only when recording.
  Span(Kind kind, const std::string& name, const char* suffix, Device device) {
    if (enabled()) begin(kind, (name + suffix).c_str(), device);
  }
  ~Span() {
    if (event_) end();
  }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  void begin(Kind kind, const char* name, Device device);
  void end();

  std::optional<Event> event_;  // set while recording: an untraced span builds nothing
  const std::string* outer_op_ = nullptr;
};

// A GPU launch that ran from `start_us` for `duration_us`. `site_text` is the launch's argument
// text as written at the I2V_LAUNCH (its kernel expression is everything before the first
// top-level comma).
void record_launch(const char* site_text, DeviceType device, const unsigned grid[3], const unsigned block[3],
                   size_t shared_bytes, double start_us, double duration_us);

// The kernel named in an I2V_LAUNCH's argument text: "gemm_tile<P, Q>, grid, ..." -> "gemm_tile<P, Q>".
std::string kernel_name_of(const char* site_text);

// Time per kernel (launches of one kernel by one op on one device) and per layer span, most first.
struct SummaryRow {
  std::string name, op, device;
  int64_t count = 0;
  double total_us = 0;
};
struct Summary {
  std::vector<SummaryRow> kernels, layers;
  int64_t launches = 0, ops = 0;
  double launch_us = 0;  // the launches' time, summed
  double span_us = 0;    // from the first event's start to the last one's end
};
Summary summarize(const std::vector<Event>& events);
// The summary as a table (launches, total and mean time, share of the launches' time): the `top`
// kernels and layer spans that took the most time, or all of them for 0.
std::string summary_table(const Summary& summary, size_t top = 0);

// One event as its JSON line (no newline), and back. parse_line throws i2v::Error naming `where`
// on a line that is not an event (summary lines are not: check is_summary_line first).
std::string event_line(const Event& event);
bool is_summary_line(const std::string& line);
Event parse_event_line(const std::string& line, const std::string& where);

const char* kind_name(Kind kind);

}  // namespace i2v::trace
