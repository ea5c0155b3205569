#include "kernels/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/error.h"
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
#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)
  return false;
#else
  const char* setting = std::getenv("I2V_ALLOCATOR_CACHE");
  return !(setting && std::string(setting) == "0");
#endif
}

// Book-keeping: live blocks and the stats.
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

// What a device's allocator caches.
struct CachePolicy {
  size_t smallest_cached = 0;  // smaller blocks are freed at once and keep their exact size
  size_t most_cached = std::numeric_limits<size_t>::max();  // beyond this, the oldest cached blocks are freed
};

constexpr size_t kHugePage = size_t(2) << 20;

CachePolicy host_cache_policy() {
  CachePolicy policy;
  policy.smallest_cached = size_t(1) << 20;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) policy.most_cached = size_t(pages) * size_t(page) / 4;
  return policy;
}

// 64-byte aligned host memory; from 2 MiB on, aligned to 2 MiB and advised onto transparent huge
// pages (a 512th of the page faults and TLB entries; the advice may be ignored, harmlessly).
void* host_malloc(size_t bytes) {
  const bool huge = bytes >= kHugePage;
  void* pointer = nullptr;
  if (posix_memalign(&pointer, huge ? kHugePage : 64, bytes) != 0)
    I2V_THROW("out of host memory: {} bytes requested", bytes);
  if (huge) madvise(pointer, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
  return pointer;
}

class CachingAllocator final : public Allocator {
 public:
  CachingAllocator(Device device, CachePolicy policy)
      : device_(device), policy_(policy), caching_(caching_enabled_by_default()) {}

  ~CachingAllocator() override { release_cached(0); }

  void* allocate(size_t bytes) override {
    const size_t block_bytes = block_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* pointer = nullptr;
    const auto same_size = by_size_.equal_range(block_bytes);
    if (same_size.first != same_size.second) {
      const auto cached = std::prev(same_size.second);  // the most recently freed: maybe still in the CPU's caches
      pointer = cached->second->pointer;
      cached_bytes_ -= block_bytes;
      freed_.erase(cached->second);
      by_size_.erase(cached);
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
    if (!caching_ || bytes < policy_.smallest_cached || bytes > policy_.most_cached) {
      device_free(pointer, bytes);
      return;
    }
    release_cached(policy_.most_cached - bytes);
    freed_.push_back({bytes, pointer});
    by_size_.emplace(bytes, std::prev(freed_.end()));
    cached_bytes_ += bytes;
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return ledger_.stats();
  }

  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ledger_.stats().peak_in_use_bytes = ledger_.stats().in_use_bytes;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached(0);
  }

  bool caching() const override { return caching_; }

  size_t cache_limit() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return policy_.most_cached;
  }

  void set_cache_limit(size_t bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    policy_.most_cached = bytes;
    release_cached(bytes);
  }

 private:
  struct FreeBlock {
    size_t bytes;
    void* pointer;
  };

  size_t block_size(size_t bytes) const {
    bytes = std::max<size_t>(bytes, 1);
    return caching_ && bytes >= policy_.smallest_cached ? size_class(bytes) : bytes;
  }

  // Asks the device; when it is out of memory, returns the cache to it and asks once more.
  void* device_allocate(size_t bytes) {
    void* pointer = nullptr;
    try {
      pointer = raw_malloc(bytes);
    } catch (const Error&) {
      release_cached(0);
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

  void device_free(void* pointer, size_t bytes) {
    raw_free(pointer);
    ledger_.stats().reserved_bytes -= bytes;
  }

  // Frees the least recently freed blocks until the cache holds at most `keep` bytes.
  void release_cached(size_t keep) {
    while (cached_bytes_ > keep) {
      const FreeBlock oldest = freed_.front();
      auto range = by_size_.equal_range(oldest.bytes);
      auto entry = std::find_if(range.first, range.second, [&](const auto& e) { return e.second == freed_.begin(); });
      by_size_.erase(entry);
      freed_.pop_front();
      cached_bytes_ -= oldest.bytes;
      device_free(oldest.pointer, oldest.bytes);
    }
  }

  void* raw_malloc(size_t bytes) {
    if (device_.type == DeviceType::cpu) return host_malloc(bytes);
    if (device_.type == DeviceType::sim) return sim::device_malloc(bytes);
#if I2V_HAVE_CUDA
    return cuda::device_malloc(bytes);
#else
    throw_cuda_not_built("device_malloc");
#endif
  }

  void raw_free(void* pointer) {
    if (device_.type == DeviceType::cpu) return std::free(pointer);
    if (device_.type == DeviceType::sim) return sim::device_free(pointer);
#if I2V_HAVE_CUDA
    cuda::device_free(pointer);
#endif
  }

  Device device_;
  CachePolicy policy_;
  bool caching_;
  mutable std::mutex mutex_;
  Ledger ledger_;
  std::list<FreeBlock> freed_;  // cached blocks, least recently freed first
  std::multimap<size_t, std::list<FreeBlock>::iterator> by_size_;  // size class -> its entries in freed_
  size_t cached_bytes_ = 0;
};

}  // namespace

Allocator& allocator(Device device) {
  // Never destroyed: tensors held by static objects may be freed after main returns.
  static CachingAllocator* const cpu = new CachingAllocator(Device::cpu(), host_cache_policy());
  static CachingAllocator* const sim = new CachingAllocator(Device::sim(), CachePolicy{});
  static CachingAllocator* const cuda = new CachingAllocator(Device::cuda(), CachePolicy{});
  switch (device.type) {
    case DeviceType::cpu: return *cpu;
    case DeviceType::sim: return *sim;
    case DeviceType::cuda: return *cuda;
  }
  return *cpu;
}

}  // namespace i2v
