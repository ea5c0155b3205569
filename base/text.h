// Numbers as people read them, in tables and progress lines.
#pragma once

#include <cstdint>
#include <string>

namespace i2v {

// 76003 -> "76,003".
std::string format_count(int64_t n);
// "42.0 s", "3 min 20 s", "1 h 05 min".
std::string format_duration(double seconds);
// 36925184 -> "35.2 MiB" (powers of 1024).
std::string format_bytes(double bytes);
// 1.87e9, "F" -> "1.9 GF" (powers of 1000).
std::string format_si(double value, const char* unit);

}  // namespace i2v
