#include "base/system_memory.h"

#include <algorithm>
#include <fstream>
#include <string>

namespace i2v {
namespace {

// The value of "Key:   123 kB" in /proc/meminfo, in bytes.
std::optional<int64_t> meminfo(const std::string& key) {
  std::ifstream file("/proc/meminfo");
  std::string name, unit;
  int64_t value = 0;
  while (file >> name >> value) {
    std::getline(file, unit);
    if (name == key + ":") return value * 1024;
  }
  return std::nullopt;
}

// A number alone in a file ("max" and anything else: none).
std::optional<int64_t> number_in(const char* path) {
  std::ifstream file(path);
  int64_t value = 0;
  if (file >> value) return value;
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> available_memory_bytes() {
  std::optional<int64_t> available = meminfo("MemAvailable");
  const std::optional<int64_t> limit = number_in("/sys/fs/cgroup/memory.max");
  const std::optional<int64_t> used = number_in("/sys/fs/cgroup/memory.current");
  if (limit && used) {
    const int64_t left = std::max<int64_t>(0, *limit - *used);
    available = available ? std::min(*available, left) : left;
  }
  return available;
}

}  // namespace i2v
