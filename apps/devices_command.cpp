// `i2v devices`: where kernels can run on this machine.
#include <cstdio>

#include "apps/commands.h"
#include "kernels/device.h"

namespace i2v::app {
namespace {

void add_devices_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("devices", "List the devices kernels can run on (cpu, sim, cuda)");
  cmd->footer("Example:\n  i2v devices");
  cmd->callback([] { std::fputs(describe_devices().c_str(), stdout); });
}

const bool registered = register_command("devices", add_devices_command);

}  // namespace
}  // namespace i2v::app
