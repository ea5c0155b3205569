// How much memory this process may still take: the kernel's estimate of what can be allocated
// without swapping (MemAvailable in /proc/meminfo), lowered to what a cgroup limit leaves (a
// container's memory.max minus its memory.current). For refusing work that cannot fit before
// it starts, with numbers, rather than being killed without a word half-way.
#pragma once

#include <cstdint>
#include <optional>

namespace i2v {

// Bytes; nullopt where the system does not say (then nothing is refused for want of memory).
std::optional<int64_t> available_memory_bytes();

}  // namespace i2v
