#include "apps/commands.h"

#include <map>
#include <string>

namespace i2v::app {
namespace {

std::map<std::string, AddCommand>& registry() {
  static std::map<std::string, AddCommand> commands;
  return commands;
}

}  // namespace

bool register_command(const char* name, AddCommand add) {
  registry()[name] = add;
  return true;
}

void add_registered_commands(CLI::App& app) {
  for (const auto& [name, add] : registry()) add(app);
}

}  // namespace i2v::app
