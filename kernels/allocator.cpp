#include "kernels/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "kernels/error.h"
#include "kernels/runtime.h"

namespace i2v {
namespace {

// Size classes: 512-byte granules, and for large blocks steps of 1/8 of their power of two,
// so rounding wastes at most 12.5% while nearby sizes still share blocks.
size_t size_class(size_t bytes) {
  if (bytes <= 512) return 512;
  const size_t power = size_t(1) << (63 - __builtin_clzll(bytes));
  const size_t step = std::max<size_t>(512, power / 8);
  return (bytes + step - 1) / step * step;
}

bool caching_enabled_by_default() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  const char* setting = std::getenv("I2V_ALLOCATOR_CACHE");
  return !(setting && std::string(setting) == "0");
#endif
}

// Book-keeping shared by both allocators: live blocks and the stats.
class Ledger {
 public:
  void on_allocate(void* pointer, size_t bytes) {
    live_[pointer] = bytes;
    stats_.in_use_bytes += bytes;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    ++stats_.allocations;
  }
  size_t on_deallocate(void* pointer, const char* device) {
    auto it = live_.find(pointer);
    I2V_CHECK(it != live_.end(), "{} allocator: freeing {} which it did not allocate (or twice)",
              device, pointer);
    const size_t bytes = it->second;
    live_.erase(it);
    stats_.in_use_bytes -= bytes;
    return bytes;
  }
  AllocatorStats& stats() { return stats_; }
  const AllocatorStats& stats() const { return stats_; }

 private:
  std::unordered_map<void*, size_t> live_;
  AllocatorStats stats_;
};

// The stats half of an allocator: live blocks and counters, behind one mutex.
class TrackedAllocator : public Allocator {
 public:
  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return ledger_.stats();
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ledger_.stats().peak_in_use_bytes = ledger_.stats().in_use_bytes;
  }

 protected:
  mutable std::mutex mutex_;
  Ledger ledger_;
};

class HostAllocator final : public TrackedAllocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) bytes = 1;
    void* pointer = nullptr;
    I2V_CHECK(posix_memalign(&pointer, 64, bytes) == 0, "out of host memory: {} bytes requested",
              bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ledger_.on_allocate(pointer, bytes);
    ledger_.stats().reserved_bytes += bytes;
    ++ledger_.stats().device_allocations;
    return pointer;
  }
  void deallocate(void* pointer) override {
    if (pointer == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ledger_.stats().reserved_bytes -= ledger_.on_deallocate(pointer, "cpu");
    }
    std::free(pointer);
  }
  void empty_cache() override {}
  bool caching() const override { return false; }
};

class CachingAllocator final : public TrackedAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device), caching_(caching_enabled_by_default()) {}

  ~CachingAllocator() override { release_cached(); }

  void* allocate(size_t bytes) override {
    const size_t block_bytes = caching_ ? size_class(bytes) : std::max<size_t>(bytes, 1);
    std::lock_guard<std::mutex> lock(mutex_);
    void* pointer = nullptr;
    auto cached = cached_.find(block_bytes);
    if (cached != cached_.end()) {
      pointer = cached->second;
      cached_.erase(cached);
      ++ledger_.stats().cache_hits;
    } else {
      pointer = device_allocate(block_bytes);
    }
    ledger_.on_allocate(pointer, block_bytes);
    return pointer;
  }

  void deallocate(void* pointer) override {
    if (pointer == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t bytes = ledger_.on_deallocate(pointer, device_.name().c_str());
    if (caching_) {
      cached_.emplace(bytes, pointer);
    } else {
      device_free(pointer);
      ledger_.stats().reserved_bytes -= bytes;
    }
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

  bool caching() const override { return caching_; }

 private:
  // Asks the device; when it is out of memory, returns the cache to it and asks once more.
  void* device_allocate(size_t bytes) {
    void* pointer = nullptr;
    try {
      pointer = raw_malloc(bytes);
    } catch (const Error&) {
      release_cached();
      try {
        pointer = raw_malloc(bytes);
      } catch (const Error& e) {
        I2V_THROW("{} out of memory allocating {} bytes ({} bytes in use): {}", device_.name(),
                  bytes, ledger_.stats().in_use_bytes, e.message());
      }
    }
    ledger_.stats().reserved_bytes += bytes;
    ++ledger_.stats().device_allocations;
    return pointer;
  }

  void release_cached() {
    for (auto& [bytes, pointer] : cached_) {
      device_free(pointer);
      ledger_.stats().reserved_bytes -= bytes;
    }
    cached_.clear();
  }

  void* raw_malloc(size_t bytes) {
    if (device_.type == DeviceType::sim) return sim::device_malloc(bytes);
#if I2V_HAVE_CUDA
    return cuda::device_malloc(bytes);
#else
    throw_cuda_not_built("device_malloc");
#endif
  }

  void device_free(void* pointer) {
    if (device_.type == DeviceType::sim) return sim::device_free(pointer);
#if I2V_HAVE_CUDA
    cuda::device_free(pointer);
#endif
  }

  Device device_;
  bool caching_;
  std::multimap<size_t, void*> cached_;  // size class -> free block
};

}  // namespace

Allocator& allocator(Device device) {
  // Never destroyed: tensors held by static objects may be freed after main returns.
  static HostAllocator* const cpu = new HostAllocator;
  static CachingAllocator* const sim = new CachingAllocator(Device::sim());
  static CachingAllocator* const cuda = new CachingAllocator(Device::cuda());
  switch (device.type) {
    case DeviceType::cpu: return *cpu;
    case DeviceType::sim: return *sim;
    case DeviceType::cuda: return *cuda;
  }
  return *cpu;
}

}  // namespace i2v
