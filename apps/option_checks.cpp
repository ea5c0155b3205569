#include "apps/option_checks.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>

namespace i2v::app {
namespace {

// A validator that refuses NaN and what `fits` refuses, saying `wanted`.
CLI::Validator number_check(std::function<bool(double)> fits, const std::string& wanted, const std::string& name) {
  return CLI::Validator(
      [fits, wanted](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(begin, &end);
        if (end == begin || *end != '\0') return "";  // not a number: CLI11's conversion says so
        if (std::isnan(value)) return fmt::format("must be {}, got {} (not a number)", wanted, text);
        if (!fits(value)) return fmt::format("must be {}, got {}", wanted, text);
        return "";
      },
      name);
}

}  // namespace

// The help shows a range after the type: INT:NONNEGATIVE, FLOAT:0..1.
CLI::Option* add_deprecated_alias(CLI::App* command, const std::string& old_name, std::string& into,
                                  const std::string& new_name) {
  const CLI::Validator warn(
      [old_name, new_name](std::string&) -> std::string {
        std::fprintf(stderr, "i2v: warning: %s is deprecated; use %s\n", old_name.c_str(), new_name.c_str());
        return "";
      },
      "");
  return command->add_option(old_name, into, "Deprecated: " + new_name)->check(warn)->group("");
}

CLI::Validator at_least(double min) {
  return number_check([min](double v) { return v >= min; }, fmt::format("at least {}", min),
                      min == 0 ? "NONNEGATIVE" : min == 1 ? "POSITIVE" : fmt::format("AT LEAST {}", min));
}

CLI::Validator above(double min) {
  return number_check([min](double v) { return v > min && std::isfinite(v); }, fmt::format("above {}", min),
                      min == 0 ? "POSITIVE" : fmt::format("ABOVE {}", min));
}

CLI::Validator in_range(double min, double max) {
  return number_check([min, max](double v) { return v >= min && v <= max; },
                      fmt::format("between {} and {}", min, max), fmt::format("{}..{}", min, max));
}

CLI::Validator finite_number() {
  return number_check([](double v) { return std::isfinite(v); }, "a finite number", "FINITE");
}

}  // namespace i2v::app
