// `i2v trace summary|picture|chrome FILE`: reads a kernel trace (--trace, kernels/trace.h) back:
// its summary table, a timeline as a PNG, or the timeline in the Chrome trace-event format for
// chrome://tracing and Perfetto.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/trace_timeline.h"
#include "base/atomic_file.h"
#include "base/command_files.h"
#include "base/error.h"
#include "base/file.h"
#include "base/text.h"
#include "data/image.h"
#include "kernels/trace.h"

namespace i2v::app {
namespace {

std::vector<trace::Event> read_trace(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::vector<trace::Event> events;
  std::string line;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    if (line.empty() || trace::is_summary_line(line)) continue;
    events.push_back(trace::parse_event_line(line, fmt::format("{}:{}", path, number)));
  }
  I2V_CHECK(!events.empty(), "{}: no trace events (write one with --trace FILE on a command that runs a network)", path);
  return events;
}

// The trace-event format ("Trace Event Format", the JSON object form): one complete event ("ph":
// "X", start and duration in µs) per span. The host's spans (layers, ops, cpu kernels) are on
// one track per host thread; a GPU device's launches on a track of their own per host thread
// that launched them, as profilers show a stream beside the CPU.
nlohmann::json chrome_trace(const std::vector<trace::Event>& events, const std::string& source) {
  constexpr int kHostProcess = 1;
  auto process_of = [&](const trace::Event& e) {
    return e.kind == trace::Kind::launch && e.has_shape ? kHostProcess + 1 + int(e.device) : kHostProcess;
  };
  nlohmann::json out = nlohmann::json::array();
  std::map<std::pair<int, int>, bool> tracks;
  for (const trace::Event& e : events) {
    const int pid = process_of(e);
    tracks[{pid, e.thread}] = true;
    nlohmann::json args{{"device", Device{e.device}.name()}};
    if (e.kind == trace::Kind::launch) {
      args["op"] = e.op;
      if (e.has_shape) {
        args["grid"] = e.grid;
        args["block"] = e.block;
        args["shared_bytes"] = e.shared_bytes;
      }
    }
    out.push_back({{"name", e.name}, {"cat", trace::kind_name(e.kind)}, {"ph", "X"}, {"ts", e.start_us},
                   {"dur", e.duration_us}, {"pid", pid}, {"tid", e.thread}, {"args", args}});
  }
  // Names for the tracks ("M" metadata events).
  for (const auto& [track, unused] : tracks) {
    const auto [pid, tid] = track;
    const std::string process = pid == kHostProcess ? "host" : Device{DeviceType(pid - kHostProcess - 1)}.name() + " launches";
    out.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", process}}}});
    out.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                   {"args", {{"name", fmt::format("thread {}", tid)}}}});
  }
  return {{"traceEvents", out}, {"displayTimeUnit", "ms"}, {"otherData", {{"source", source}}}};
}

// The window `i2v trace picture` draws: the `occurrence`-th span named `name` (from 1), or, with
// no name, the whole trace.
std::pair<double, double> window_of(const std::vector<trace::Event>& events, const std::string& name, int occurrence,
                                    const std::string& path, std::string& described) {
  if (name.empty()) {
    double first = events.front().start_us, last = 0;
    for (const trace::Event& e : events) {
      first = std::min(first, e.start_us);
      last = std::max(last, e.start_us + e.duration_us);
    }
    described = fmt::format("the whole trace, {:.3f} ms", (last - first) / 1000);
    return {first, last};
  }
  std::vector<const trace::Event*> named;
  for (const trace::Event& e : events)
    if (e.name == name) named.push_back(&e);
  I2V_CHECK(!named.empty(), "{}: no span named {} (a layer's are named like conv1_1.forward; a training step's "
            "train_step)", path, name);
  I2V_CHECK(occurrence >= 1 && size_t(occurrence) <= named.size(), "{}: --occurrence {}: {} has {} span(s) named {}",
            path, occurrence, path, named.size(), name);
  const trace::Event& e = *named[size_t(occurrence) - 1];
  described = fmt::format("{} {} of {}, {:.3f} ms", name, occurrence, named.size(), e.duration_us / 1000);
  return {e.start_us, e.start_us + e.duration_us};
}

void add_trace_command(CLI::App& app) {
  static std::string input, output, span;
  static size_t top = 0;
  static int occurrence = 1, width = 1600;
  CLI::App* cmd = app.add_subcommand("trace", "Read a kernel trace written with --trace: its summary, or a timeline");
  cmd->require_subcommand(1);
  cmd->footer(
      "A trace is written by any command that runs a network, with --trace FILE or I2V_TRACE=FILE:\n"
      "one JSON line per layer, op and kernel launch (name, device, grid, block, shared memory, time).\n\n"
      "Examples:\n"
      "  i2v train --config configs/emoji-i2v-tag.json --set max_steps=3 --trace train.jsonl\n"
      "  i2v trace summary train.jsonl\n"
      "  i2v trace picture train.jsonl --span train_step --occurrence 2 -o step2.png\n"
      "  i2v trace chrome train.jsonl -o train.trace.json   (open in https://ui.perfetto.dev or chrome://tracing)");

  CLI::App* summary = cmd->add_subcommand("summary", "Where the time went: per kernel and per layer, most first");
  summary->add_option("trace", input, "A trace written with --trace")->required();
  summary->add_option("--top", top, "Only the kernels and layer spans that took the most time (0: all)")
      ->capture_default_str();
  summary->footer("Examples:\n  i2v trace summary step.jsonl\n  i2v trace summary step.jsonl --top 5");
  summary->callback([] {
    CommandFiles().input("trace", input).check();
    std::fputs(trace::summary_table(trace::summarize(read_trace(input)), top).c_str(), stdout);
  });

  CLI::App* picture = cmd->add_subcommand("picture", "Draw the trace as a timeline (PNG): layers, ops and kernels");
  picture->add_option("trace", input, "A trace written with --trace")->required();
  picture->add_option("-o,--output", output, "The PNG to write")->required();
  picture->add_option("--span", span, "Draw only the time of the span with this name (train_step, conv1_1.forward, ...)");
  picture->add_option("--occurrence", occurrence, "Which of the spans of that name, from 1")->capture_default_str();
  picture->add_option("--width", width, "Pixels")->capture_default_str()->check(CLI::Range(400, 20000));
  picture->footer(
      "A track per host thread (each step, layer and op, with the kernels they ran nested under them) and\n"
      "one per GPU device it launched on; a bar per span, coloured by its name and named where it fits.\n\n"
      "Examples:\n  i2v trace picture train.jsonl -o train.png\n"
      "  i2v trace picture train.jsonl --span train_step --occurrence 2 -o step2.png");
  picture->callback([] {
    CommandFiles files;
    files.input("trace", input).output("--output", output);
    files.check();
    const std::vector<trace::Event> events = read_trace(input);
    std::string described;
    const auto [from_us, to_us] = window_of(events, span, occurrence, input, described);
    save_png(output, draw_trace_timeline(events, from_us, to_us, width, fmt::format("{}: {}", input, described)));
    std::printf("wrote %s: %s\n", output.c_str(), described.c_str());
  });

  CLI::App* chrome = cmd->add_subcommand("chrome", "Write the trace as a Chrome trace (chrome://tracing, Perfetto)");
  chrome->add_option("trace", input, "A trace written with --trace")->required();
  chrome->add_option("-o,--output", output, "The Chrome trace-event JSON to write")->required();
  chrome->footer("Example:\n  i2v trace chrome step.jsonl -o step.trace.json");
  chrome->callback([] {
    CommandFiles files;
    files.input("trace", input).output("--output", output);
    files.check();
    const std::vector<trace::Event> events = read_trace(input);
    write_file_atomically(output, chrome_trace(events, input).dump() + "\n");
    std::printf("%s: %s events; open it in https://ui.perfetto.dev or chrome://tracing\n", output.c_str(),
                format_count(int64_t(events.size())).c_str());
  });
}

const bool registered = register_command("trace", add_trace_command);

}  // namespace
}  // namespace i2v::app
