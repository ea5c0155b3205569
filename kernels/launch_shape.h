// Launch shapes shared by the elementwise kernels.
#pragma once

#include <algorithm>
#include <cstdint>

namespace i2v {

constexpr unsigned kElementwiseThreads = 256;

// Blocks for a grid-stride loop over `count` elements: enough to fill a large GPU (132 SMs ×
// 2048 threads / 256 = 1056 blocks on an H100), no more, since each thread loops.
inline unsigned elementwise_blocks(int64_t count) {
  const int64_t needed = (count + kElementwiseThreads - 1) / kElementwiseThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(needed, 2048)));
}

}  // namespace i2v
