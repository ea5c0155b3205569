// The subcommands of the i2v tool. Each apps/<name>_command.cpp registers itself:
//
//   static const bool registered = i2v::app::register_command("devices", add_devices_command);
//
// and main() adds them all, in name order, to the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace i2v::app {

using AddCommand = void (*)(CLI::App& app);

// Returns true, so it can initialise a static in the command's file.
bool register_command(const char* name, AddCommand add);
// Adds every registered command to `app`.
void add_registered_commands(CLI::App& app);

}  // namespace i2v::app
