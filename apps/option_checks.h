// The ranges of numeric command-line options, checked as the command line is parsed: one
// validator per kind of range, with a message a person reads ("--k: must be at least 1, got 0";
// CLI11's own PositiveNumber prints the largest double in 309 digits). NaN is refused by each.
//
//   cmd->add_option("--k", k, "How many neighbours")->check(at_least(1));
//   cmd->add_option("--threshold", t, "...")->check(in_range(0, 1));
//   cmd->add_option("--width", w, "...")->check(above(0));
//
// A list option (->delimiter(',')) is checked value by value. Text that is not a number is left
// to CLI11's conversion, which refuses it.
#pragma once

#include <CLI/CLI.hpp>

namespace i2v::app {

// An old spelling of an option kept working: `--old VALUE` sets what `--new` sets, says on stderr
// that it is deprecated and which to use, and is left out of the help.
//   add_deprecated_alias(cmd, "--image-root", o.images, "--images");
CLI::Option* add_deprecated_alias(CLI::App* command, const std::string& old_name, std::string& into,
                                  const std::string& new_name);

// min <= value.
CLI::Validator at_least(double min);
// min < value (and finite).
CLI::Validator above(double min);
// min <= value <= max.
CLI::Validator in_range(double min, double max);
// Any finite value.
CLI::Validator finite_number();

}  // namespace i2v::app
