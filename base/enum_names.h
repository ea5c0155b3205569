// Reading an enum value back from its name ("shorter_side", "2022", ...), with one message that
// lists the choices, for the options of the data pipeline.
#pragma once

#include <initializer_list>
#include <string>

#include "base/error.h"

namespace i2v {

template <typename Enum>
Enum parse_enum(const std::string& text, std::initializer_list<Enum> values, const char* (*name)(Enum),
                const char* what) {
  std::string choices;
  size_t i = 0;
  for (Enum value : values) {
    if (text == name(value)) return value;
    choices += std::string(i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + name(value);
    ++i;
  }
  I2V_THROW("unknown {} '{}' ({})", what, text, choices);
}

}  // namespace i2v
