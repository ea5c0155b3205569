// Running the i2v tool from a test: its exit status, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "base/file.h"

namespace i2v::test {

struct ToolRun {
  int status = 0;
  std::string out, err;
};

// Runs `tool ARGS` (a shell command line's arguments) in `directory`, on one OpenMP thread (tests
// run side by side); stderr goes through a file there, `stderr.txt`.
inline ToolRun run_tool(const std::string& tool, const std::string& directory, const std::string& args) {
  const std::string err_file = directory + "/stderr.txt";
  const std::string command =
      fmt::format("cd '{}' && OMP_NUM_THREADS=1 '{}' {} 2>'{}'", directory, tool, args, err_file);
  ToolRun run;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = read_file(err_file);
  return run;
}

}  // namespace i2v::test
