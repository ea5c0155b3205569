// Device memory for tensors. Each device has one allocator:
//   cpu       — 64-byte aligned host memory, returned to the system on free;
//   sim, cuda — a caching allocator: freed blocks are kept and reused for later requests of the
//               same size class, because device malloc/free are slow and synchronising on a GPU
//               and a training step allocates the same sizes again and again.
// Stats say how much is in use now, the peak since the last reset, and how much the cache holds.
// Under AddressSanitizer (and with I2V_ALLOCATOR_CACHE=0) the caching is off, so every block has
// its exact size and a kernel's out-of-bounds access is reported.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/device.h"

namespace i2v {

struct AllocatorStats {
  size_t in_use_bytes = 0;       // bytes of live blocks (their size class)
  size_t peak_in_use_bytes = 0;  // largest in_use_bytes since the last reset_peak()
  size_t reserved_bytes = 0;     // bytes obtained from the device: live + cached
  uint64_t allocations = 0;      // allocate() calls
  uint64_t cache_hits = 0;       // allocations served from the cache
  uint64_t device_allocations = 0;  // allocations that went to the device
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Never returns nullptr for bytes > 0; throws when the device is out of memory.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* pointer) = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak() = 0;
  // Returns cached blocks to the device.
  virtual void empty_cache() = 0;
  virtual bool caching() const = 0;
};

Allocator& allocator(Device device);

}  // namespace i2v
