// The subcommands of the i2v tool; each registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace i2v::app {

void add_devices_command(CLI::App& app);
void add_smoke_command(CLI::App& app);

}  // namespace i2v::app
