// `i2v sim-trace`: the sim device as a microscope. Runs one of a few kernels on the SIMT emulator
// twice, in order and shuffled, records one block's schedule each time (kernels/sim/simt.h,
// ScheduleRecorder) and draws the two side by side (apps/sim_trace_picture.h); prints what
// happened and whether the result was right.
#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/sim_trace_picture.h"
#include "base/atomic_file.h"
#include "base/command_files.h"
#include "base/error.h"
#include "data/image.h"
#include "kernels/sim_trace_cases.h"

namespace i2v::app {
namespace {

using simt::ScheduleEvent;
using Kind = ScheduleEvent::Kind;

// "X", "X,Y" or "X,Y,Z" (missing coordinates are 0).
simt::uint3 parse_block(const std::string& text) {
  unsigned coordinates[3] = {0, 0, 0};
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    I2V_CHECK(!part.empty() && part.size() <= 9 && part.find_first_not_of("0123456789") == std::string::npos,
              "--block: '{}' is not X,Y,Z (block coordinates, numbers from 0)", text);
    coordinates[i] = unsigned(std::stoul(part));
    if (comma == std::string::npos) return simt::uint3{coordinates[0], coordinates[1], coordinates[2]};
    start = comma + 1;
  }
  I2V_THROW("--block: '{}' is not X,Y,Z (block coordinates, numbers from 0)", text);
}

struct Traced {
  std::string title;  // "in order", "shuffled (seed 7)"
  simt::Schedule schedule;
  SimTraceRun run;
};

// "2816 steps: 2816 resumes, 7 barriers (448 arrivals), 0 collective arrivals, 64 exits".
std::string summary(const std::vector<ScheduleEvent>& events) {
  std::map<Kind, size_t> per_kind;
  std::map<std::string, size_t> per_op;
  unsigned barriers = 0;
  for (const ScheduleEvent& e : events) {
    ++per_kind[e.kind];
    if (e.kind == Kind::barrier) barriers = std::max(barriers, e.ordinal);
    if (e.kind == Kind::warp_collective) ++per_op[simt::warp_op_name(e.op)];
  }
  std::string ops;
  for (const auto& [op, count] : per_op) ops += fmt::format("{}{} {}", ops.empty() ? " (" : ", ", op, count);
  if (!ops.empty()) ops += ")";
  const uint64_t steps = events.empty() ? 0 : events.back().step + 1;
  return fmt::format("{} steps: {} resumes, {} barrier(s) ({} arrivals), {} collective arrivals{}, {} exits", steps,
                     per_kind[Kind::resume], barriers, per_kind[Kind::barrier], per_kind[Kind::warp_collective], ops,
                     per_kind[Kind::exit]);
}

std::string thread_list(const std::vector<unsigned>& threads) {
  std::string list;
  for (size_t i = 0; i < threads.size() && i < 16; ++i) list += (i ? ", " : "") + std::to_string(threads[i]);
  return threads.size() > 16 ? list + ", ..." : list;
}

nlohmann::json events_json(const std::vector<ScheduleEvent>& events) {
  nlohmann::json list = nlohmann::json::array();
  for (const ScheduleEvent& e : events) {
    nlohmann::json event = {{"step", e.step}, {"launch", e.launch}, {"thread", e.thread},
                            {"kind", simt::schedule_event_kind_name(e.kind)}};
    if (e.kind == Kind::warp_collective) event["op"] = simt::warp_op_name(e.op);
    if (e.kind == Kind::barrier || e.kind == Kind::warp_collective) event["ordinal"] = e.ordinal;
    list.push_back(std::move(event));
  }
  return list;
}

nlohmann::json dims_json(unsigned x, unsigned y, unsigned z) { return nlohmann::json::array({x, y, z}); }

void add_sim_trace_command(CLI::App& app) {
  static std::string kernel, block_text = "0,0,0", picture, json_file;
  static uint64_t seed = 1;
  static unsigned rows = 256;
  std::string cases_help;
  for (const SimTraceCase& c : sim_trace_cases()) cases_help += fmt::format("\n  {:27} {}", c.name, c.description);

  CLI::App* cmd = app.add_subcommand(
      "sim-trace", "Record and draw one block's schedule on the sim device: in order and shuffled, side by side");
  cmd->add_option("kernel", kernel, "Which kernel (see below)")->required();
  cmd->add_option("--block", block_text, "The block to record, X,Y,Z")->capture_default_str();
  cmd->add_option("--seed", seed, "Seed of the shuffled schedule")->capture_default_str();
  cmd->add_option("-o,--output", picture, "The PNG to write (both panels, a legend)");
  cmd->add_option("--json", json_file, "Also write the events as JSON, for other tools");
  cmd->add_option("--threads", rows, "Draw only the first N threads of the block (rows)")
      ->capture_default_str()->check(at_least(1));
  cmd->footer(
      "Kernels:" + cases_help +
      "\n\nEach runs on the sim device twice, in thread order and in the seeded shuffled order, while the\n"
      "schedule of one block is recorded: every resume of a thread and every arrival at a barrier,\n"
      "a warp collective or its exit. In the picture a row is a thread, a column a scheduler step.\n\n"
      "Examples:\n"
      "  i2v sim-trace block-sum-missing-barrier -o missing.png\n"
      "  i2v sim-trace softmax --block 1,0,0 --seed 7 -o softmax.png --json softmax.json");
  cmd->callback([] {
    const SimTraceCase& which = find_sim_trace_case(kernel);
    const simt::uint3 block = parse_block(block_text);
    CommandFiles files;
    files.output("-o", picture).output("--json", json_file);
    files.check();

    std::vector<Traced> traced = {{"in order", simt::Schedule::in_order, {}},
                                  {fmt::format("shuffled (seed {})", seed), simt::Schedule::shuffled, {}}};
    for (Traced& t : traced) t.run = run_sim_trace_case(which, block, t.schedule, seed);

    const unsigned threads = which.block.x * which.block.y * which.block.z;
    const std::string title = fmt::format("i2v sim-trace {}: block ({},{},{}) of a {}x{}x{} grid, {} threads",
                                          which.name, block.x, block.y, block.z, which.grid.x, which.grid.y,
                                          which.grid.z, threads);
    std::printf("%s\n", title.c_str());
    for (const Traced& t : traced) {
      std::printf("%-18s %s\n%-18s %s\n", (t.title + ":").c_str(), summary(t.run.events).c_str(), "",
                  t.run.result.c_str());
      if (!t.run.unwritten_readers.empty())
        std::printf("%-18s %zu thread(s) read a slot no thread had written: %s\n", "",
                    t.run.unwritten_readers.size(), thread_list(t.run.unwritten_readers).c_str());
    }

    if (!picture.empty()) {
      std::vector<SchedulePanel> panels;
      for (const Traced& t : traced)
        panels.push_back({t.title, &t.run.events, t.run.result, t.run.right, t.run.unwritten_readers,
                          "read a slot no thread had written"});
      const Image image = draw_schedule_panels(title, panels, threads, std::min(rows, threads));
      save_png(picture, image);
      std::printf("wrote %s (%dx%d%s)\n", picture.c_str(), image.width, image.height,
                  rows < threads ? fmt::format(", the first {} of {} threads", rows, threads).c_str() : "");
    }
    if (!json_file.empty()) {
      nlohmann::json document = {{"kernel", which.name},
                                 {"block", dims_json(block.x, block.y, block.z)},
                                 {"grid", dims_json(which.grid.x, which.grid.y, which.grid.z)},
                                 {"block_dim", dims_json(which.block.x, which.block.y, which.block.z)},
                                 {"runs", nlohmann::json::array()}};
      for (const Traced& t : traced) {
        const bool shuffled = t.schedule == simt::Schedule::shuffled;
        document["runs"].push_back({{"schedule", shuffled ? "shuffled" : "in_order"},
                                    {"seed", shuffled ? nlohmann::json(seed) : nlohmann::json(nullptr)},
                                    {"right", t.run.right},
                                    {"result", t.run.result},
                                    {"unwritten_readers", t.run.unwritten_readers},
                                    {"events", events_json(t.run.events)}});
      }
      write_file_atomically(json_file, document.dump(1) + "\n");
      std::printf("wrote %s\n", json_file.c_str());
    }
  });
}

const bool registered = register_command("sim-trace", add_sim_trace_command);

}  // namespace
}  // namespace i2v::app
