#include "apps/trace_option.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "base/command_files.h"
#include "base/error.h"
#include "kernels/trace.h"
#include "train/process_group.h"

namespace i2v::app {

CLI::Option* add_trace_option(CLI::App* command, std::string& path) {
  return command->add_option("--trace", path,
                             "Write a trace of every kernel launch here (JSON lines: kernel, device, grid, block, "
                             "shared memory, time) and print where the time went; `i2v trace chrome FILE` makes a "
                             "timeline for Perfetto. Also I2V_TRACE=FILE; rank r > 0 of mpirun writes FILE.rank<r>")
      ->type_name("FILE");
}

void start_trace(const std::string& option_path) {
  if (option_path.empty() || trace::enabled()) return;
  // The ranks of a distributed run (mpirun) trace into files of their own.
  const ProcessGroup& group = ProcessGroup::world();
  const std::string path = group.rank() > 0 ? fmt::format("{}.rank{}", option_path, group.rank()) : option_path;
  CommandFiles().output("--trace", path).check();
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string first_line;
    std::getline(in, first_line);
    bool is_trace = first_line.empty() || trace::is_summary_line(first_line);
    if (!is_trace) {
      try {
        trace::parse_event_line(first_line, path);
        is_trace = true;
      } catch (const Error&) {
      }
    }
    I2V_CHECK(is_trace, "--trace {}: the file exists and is not a trace; it is replaced only by a trace", path);
  }
  trace::start(path);
}

void start_trace_from_environment() {
  const char* path = std::getenv("I2V_TRACE");
  if (path != nullptr) start_trace(path);
}

void finish_trace() {
  const std::string table = trace::finish();
  if (!table.empty()) std::fputs(table.c_str(), stderr);
}

}  // namespace i2v::app
