// Device memory for tensors. Each device has one caching allocator: freed blocks are kept and
// reused for later requests of the same size class, because a training step allocates the same
// sizes again and again, and fresh memory is slow on every device —
//   sim, cuda — device malloc/free are slow and synchronising on a GPU;
//   cpu       — 64-byte aligned host memory; glibc hands blocks over its mmap threshold (at most
//               32 MiB) back to the system on free, so each new one costs a page fault per 4 KiB
//               on first touch (~45 ms for a 103 MB VGG activation). The cpu caches blocks of
//               1 MiB and more (glibc keeps smaller ones itself), at most a quarter of the
//               machine's memory (beyond that, the least recently freed go back first), and puts
//               blocks of 2 MiB and more on transparent huge pages (madvise).
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
  // Returns every cached block to the device.
  virtual void empty_cache() = 0;
  // The most bytes the cache may hold (the least recently freed blocks go back first beyond
  // it); lowering it frees blocks at once.
  virtual size_t cache_limit() const = 0;
  virtual void set_cache_limit(size_t bytes) = 0;
  virtual bool caching() const = 0;
};

Allocator& allocator(Device device);

// Memory for one call's temporaries (a kernel's packed panels, partial sums), from the device's
// allocator and handed back to it when the Scratch goes out of scope, so that the allocator's
// stats count it while the call runs. On a GPU, kernels run in order on the default stream, so a
// block handed back is only reused by work launched after the kernels that used it.
class Scratch {
 public:
  Scratch(Device device, size_t bytes)
      : allocator_(allocator(device)), data_(bytes > 0 ? allocator_.allocate(bytes) : nullptr) {}
  ~Scratch() { allocator_.deallocate(data_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  Allocator& allocator_;
  void* data_;
};

}  // namespace i2v
