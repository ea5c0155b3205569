// `i2v trace summary|chrome FILE`: reads a kernel trace (--trace, kernels/trace.h) back: its
// summary table, or a timeline in the Chrome trace-event format for chrome://tracing and Perfetto.
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "base/atomic_file.h"
#include "base/command_files.h"
#include "base/error.h"
#include "base/file.h"
#include "base/text.h"
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

void add_trace_command(CLI::App& app) {
  static std::string input, output;
  static size_t top = 0;
  CLI::App* cmd = app.add_subcommand("trace", "Read a kernel trace written with --trace: its summary, or a timeline");
  cmd->require_subcommand(1);
  cmd->footer(
      "A trace is written by any command that runs a network, with --trace FILE or I2V_TRACE=FILE:\n"
      "one JSON line per layer, op and kernel launch (name, device, grid, block, shared memory, time).\n\n"
      "Examples:\n"
      "  i2v train --config configs/emoji-i2v-tag.json --set max_steps=3 --trace train.jsonl\n"
      "  i2v trace summary train.jsonl\n"
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
