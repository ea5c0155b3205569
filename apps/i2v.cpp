// i2v: the command-line front end of the framework.
#include <cstdio>

#include "apps/commands.h"
#include "base/error.h"

int main(int argc, char** argv) {
  CLI::App app{"i2v — a from-scratch C++/CUDA deep-learning framework for illustrations.\n"
               "Run `i2v COMMAND --help` for a command's options and examples."};
  app.require_subcommand(1);
  i2v::app::add_registered_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    const std::vector<std::string> left = app.remaining();
    if (app.get_subcommands().empty() && !left.empty())
      std::fprintf(stderr, "i2v: error: unknown command '%s' (i2v --help lists them)\n", left.front().c_str());
    else
      std::fprintf(stderr, "i2v: error: %s (add --help for the options)\n", e.what());
    return e.get_exit_code();
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
