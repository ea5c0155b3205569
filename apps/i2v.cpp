// i2v: the command-line front end of the framework.
//
// Exit codes, the same for every command (README, "Conventions"; `i2v --help`):
//   0    done
//   1    an error, named on one line of stderr: bad input, a refused output, a damaged file, a
//        failed write (also of stdout: `i2v search ... > /dev/full` is an error)
//   2    a usage error: an unknown command or option, a missing or malformed option value
//   130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: 128 + the signal's number, after saving
//        what could be saved (a training checkpoint)
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/commands.h"
#include "apps/trace_option.h"
#include "base/error.h"
#include "train/process_group.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSignalBase = 128;

// What a command printed may still sit in stdout's buffer, and a write can fail there (a full
// disk, /dev/full, a closed pipe's EPIPE when SIGPIPE is ignored): checked once, at exit.
int finish_stdout(int code) {
  const bool failed_before = std::ferror(stdout) != 0;
  if (std::fflush(stdout) != 0 || failed_before || std::fclose(stdout) != 0) {
    std::fprintf(stderr, "i2v: error: cannot write to the standard output: %s\n",
                 errno != 0 ? std::strerror(errno) : "a write failed");
    return code == 0 ? kExitError : code;
  }
  return code;
}

int run(int argc, char** argv) {
  CLI::App app{"i2v — a from-scratch C++/CUDA deep-learning framework for illustrations.\n"
               "Run `i2v COMMAND --help` for a command's options and examples."};
  app.footer(
      "Exit status: 0 done; 1 an error (one line on stderr; also a failed write of stdout); 2 a usage\n"
      "error (unknown command or option, missing or malformed value); 130 interrupted by Ctrl-C (SIGINT),\n"
      "143 by SIGTERM, after saving a checkpoint.\n"
      "Outputs are written atomically as regular files, never onto a file the command reads nor through\n"
      "a link, device or FIFO; files i2v reads back (weights, vocabularies, stores, ...) are replaced only\n"
      "with --force; missing folders are made before the work. Paths inside files i2v writes (a run's\n"
      "config.json, a code store's image paths) are relative to that file's folder. README: Conventions.");
  app.require_subcommand(1);
  i2v::app::add_registered_commands(app);
  try {
    i2v::app::start_trace_from_environment();
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    const std::vector<std::string> left = app.remaining();
    if (app.get_subcommands().empty() && !left.empty())
      std::fprintf(stderr, "i2v: error: unknown command '%s' (i2v --help lists them)\n", left.front().c_str());
    else
      std::fprintf(stderr, "i2v: error: %s (add --help for the options)\n", e.what());
    return kExitUsage;
  } catch (const i2v::Interrupted& e) {
    std::fprintf(stderr, "i2v: %s\n", e.message().c_str());
    return kExitSignalBase + e.signal_number();
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.message().c_str());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.what());
    return kExitError;
  }
  return 0;
}

// A command traced with --trace or I2V_TRACE (apps/trace_option.h) has its trace written when it
// ends, however it ended.
int finish_trace(int code) {
  try {
    i2v::app::finish_trace();
  } catch (const i2v::Error& e) {
    std::fprintf(stderr, "i2v: error: %s\n", e.message().c_str());
    return code == 0 ? kExitError : code;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const int code = finish_trace(run(argc, argv));
  errno = 0;
  const int status = finish_stdout(code);
  // A distributed run (mpirun): a rank that failed stops the others instead of leaving them waiting.
  i2v::ProcessGroup::finish(status);
  return status;
}
