#include "base/error.h"

namespace i2v {
namespace {

std::string describe(const char* file, int line, const std::string& expression,
                     const std::string& message) {
  std::string text = message;
  if (!expression.empty()) text += fmt::format(" [failed: {}]", expression);
  text += fmt::format(" ({}:{})", file, line);
  return text;
}

}  // namespace

Error::Error(const char* file, int line, const std::string& expression, const std::string& message)
    : std::runtime_error(describe(file, line, expression, message)), message_(message) {}

void throw_error(const char* file, int line, const char* expression, const std::string& message) {
  throw Error(file, line, expression, message);
}

}  // namespace i2v
