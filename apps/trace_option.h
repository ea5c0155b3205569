// `--trace FILE` (and I2V_TRACE=FILE): a trace of every kernel launch of the command
// (kernels/trace.h), written when the command ends, with its summary table on stderr.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace i2v::app {

CLI::Option* add_trace_option(CLI::App* command, std::string& path);

// Starts the trace into `path` (nothing when empty); rank r > 0 of a distributed run (mpirun)
// writes `path`.rank<r>. The file is refused as an output is (base/command_files.h), and an
// existing file is replaced only when it is a trace: a mistyped `--trace weights.safetensors`
// never destroys weights.
void start_trace(const std::string& path);
// Starts from I2V_TRACE when it is set (main(), before any command runs).
void start_trace_from_environment();
// Writes the trace and prints its summary on stderr, if one is running (main(), when the command
// has ended, also by an error: a trace of a failing run is what one looks at).
void finish_trace();

}  // namespace i2v::app
