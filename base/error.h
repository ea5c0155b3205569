// Errors are exceptions that carry where they were raised and what failed.
//
//   I2V_CHECK(cond, "format {}", args...)  throws i2v::Error when cond is false;
//   I2V_THROW("format {}", args...)         throws unconditionally;
//   CUDA_CHECK(call)                        throws when a CUDA runtime call fails (kernels/gpu.cuh).
// Library code never calls exit() or abort() for a user error; the CLI catches Error at the top
// and prints one line.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace i2v {

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& expression, const std::string& message);
  // The message alone, without the source location (for one-line CLI output).
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// Work that stopped because a signal asked it to (SIGINT: Ctrl-C; SIGTERM), after saving what it
// could (a training checkpoint): the CLI prints the message and exits with 128 + the signal's
// number (130, 143), as a shell reports a process that signal ended.
class Interrupted : public Error {
 public:
  Interrupted(int signal_number, const std::string& message)
      : Error("", 0, "", message), signal_number_(signal_number) {}
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

[[noreturn]] void throw_error(const char* file, int line, const char* expression,
                              const std::string& message);

}  // namespace i2v

#define I2V_CHECK(cond, ...)                                                    \
  do {                                                                          \
    if (!(cond)) ::i2v::throw_error(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define I2V_THROW(...) ::i2v::throw_error(__FILE__, __LINE__, "", ::fmt::format(__VA_ARGS__))
