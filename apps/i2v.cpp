// i2v: the command-line front end of the framework.
#include <cstdio>

#include "apps/commands.h"
#include "kernels/error.h"

int main(int argc, char** argv) {
  CLI::App app{"i2v — a from-scratch C++/CUDA deep-learning framework for illustrations.\n"
               "Run `i2v COMMAND --help` for a command's options and examples."};
  app.require_subcommand(1);
  i2v::app::add_registered_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
