// Text: numbers as people read them in tables and progress lines, lists in messages, case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace i2v {

// 76003 -> "76,003".
std::string format_count(int64_t n);
// "42.0 s", "3 min 20 s", "1 h 05 min".
std::string format_duration(double seconds);
// 36925184 -> "35.2 MiB" (powers of 1024).
std::string format_bytes(double bytes);
// 1.87e9, "F" -> "1.9 GF" (powers of 1000).
std::string format_si(double value, const char* unit);

// "Smileys & Emotion" -> "smileys & emotion": ASCII letters only, for names and file extensions
// (a UTF-8 byte is left as it is).
std::string to_lower(std::string text);

// Names in the order people expect, runs of digits compared as numbers: "features.2.weight"
// before "features.10.weight", "emoji-datasource-google-9.0.0.tgz" before "...-15.1.2.tgz".
bool natural_less(const std::string& a, const std::string& b);

// {"a", "b", "c"} -> "a, b, c". With `most`, a long list stops after that many items and says how
// many it left out: "a, b and 3 more", so that one message cannot fill the screen.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ",
                 size_t most = SIZE_MAX);

}  // namespace i2v
