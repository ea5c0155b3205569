// The caching allocators (cpu, sim, cuda) reuse freed blocks, report current and peak use, keep
// their cache under its limit and give it back on empty_cache; the cpu leaves small blocks to
// malloc.
#include <cstdint>

#include <gtest/gtest.h>

#include "kernels/allocator.h"
#include "base/error.h"
#include "nn/tensor.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// Under AddressSanitizer the allocators do not cache, so that every freed block reaches the
// sanitizer (a use after free is then reported): the sanitizer build checks that instead.
#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)

class UncachedAllocatorTest : public testing::TestWithParam<Device> {};

TEST_P(UncachedAllocatorTest, EveryFreedBlockGoesBack) {
  Allocator& a = allocator(GetParam());
  EXPECT_FALSE(a.caching());
  const AllocatorStats before = a.stats();
  a.deallocate(a.allocate(4000000));
  a.deallocate(a.allocate(4000000));
  EXPECT_EQ(a.stats().cache_hits, before.cache_hits);
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().in_use_bytes);
}

INSTANTIATE_TEST_SUITE_P(Devices, UncachedAllocatorTest, testing::ValuesIn(test::all_devices()), test::device_name);

#else

class CachingAllocatorTest : public testing::TestWithParam<Device> {
 protected:
  void SetUp() override { ASSERT_TRUE(allocator(GetParam()).caching()) << "I2V_ALLOCATOR_CACHE=0 turns caching off"; }
};

TEST_P(CachingAllocatorTest, FreedBlocksAreReused) {
  Allocator& a = allocator(GetParam());
  a.empty_cache();
  const AllocatorStats before = a.stats();
  void* first = a.allocate(4000000);
  a.deallocate(first);
  void* second = a.allocate(4000000);
  EXPECT_EQ(second, first) << "a block of the same size class comes back from the cache";
  void* nearby = a.allocate(4100000);  // the same size class as 4000000: 4 MiB (steps of 256 KiB here)
  EXPECT_NE(nearby, second);
  a.deallocate(second);
  a.deallocate(nearby);
  void* again = a.allocate(4050000);
  EXPECT_EQ(again, nearby) << "the most recently freed block of the class comes first";
  a.deallocate(again);
  const AllocatorStats after = a.stats();
  EXPECT_EQ(after.allocations - before.allocations, 4u);
  EXPECT_EQ(after.cache_hits - before.cache_hits, 2u);
  EXPECT_EQ(after.device_allocations - before.device_allocations, 2u);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
  a.empty_cache();
}

TEST_P(CachingAllocatorTest, CurrentAndPeakBytes) {
  Allocator& a = allocator(GetParam());
  a.empty_cache();
  a.reset_peak();
  const size_t base = a.stats().in_use_bytes;
  {
    Tensor big = Tensor::empty({1 << 20}, DType::f32, GetParam());  // 4 MiB
    Tensor small = Tensor::empty({1024}, DType::f32, GetParam());
    EXPECT_EQ(a.stats().in_use_bytes - base, size_t(4 << 20) + 4096);
  }
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.in_use_bytes, base);
  EXPECT_EQ(s.peak_in_use_bytes - base, size_t(4 << 20) + 4096);
  EXPECT_GE(s.reserved_bytes, s.in_use_bytes + size_t(4 << 20)) << "freed blocks stay cached";
  a.empty_cache();
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().in_use_bytes);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_in_use_bytes, base);
}

TEST_P(CachingAllocatorTest, CacheStaysUnderItsLimitFreeingTheOldestFirst) {
  Allocator& a = allocator(GetParam());
  a.empty_cache();
  const size_t limit = a.cache_limit();
  const size_t block = size_t(4) << 20;  // a size class of its own
  a.set_cache_limit(2 * block);
  void* blocks[3] = {a.allocate(block), a.allocate(block), a.allocate(block)};
  const size_t in_use = a.stats().in_use_bytes;
  for (void* b : blocks) a.deallocate(b);
  EXPECT_EQ(a.stats().reserved_bytes - (in_use - 3 * block), 2 * block) << "the third freed block evicts the first";
  void* reused = a.allocate(block);
  EXPECT_EQ(reused, blocks[2]);
  void* next = a.allocate(block);
  EXPECT_EQ(next, blocks[1]);
  a.deallocate(reused);
  a.deallocate(next);
  a.set_cache_limit(block);
  EXPECT_EQ(a.stats().reserved_bytes - a.stats().in_use_bytes, block) << "lowering the limit frees blocks at once";
  a.set_cache_limit(0);
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().in_use_bytes);
  a.set_cache_limit(limit);
}

TEST_P(CachingAllocatorTest, FreeingAForeignPointerIsAnError) {
  int local = 0;
  EXPECT_THROW(allocator(GetParam()).deallocate(&local), Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, CachingAllocatorTest, testing::ValuesIn(test::all_devices()), test::device_name);

#endif

TEST(HostAllocator, SmallBlocksAreExactAlignedAndNotCached) {
  Allocator& a = allocator(Device::cpu());
  const AllocatorStats before = a.stats();
  void* p = a.allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(a.stats().in_use_bytes - before.in_use_bytes, 1000u);
  a.deallocate(p);
  EXPECT_EQ(a.stats().in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(a.stats().reserved_bytes, before.reserved_bytes) << "blocks under 1 MiB go back to malloc";
}

TEST(HostAllocator, LargeBlocksStartOnHugePageBoundaries) {
  Allocator& a = allocator(Device::cpu());
  void* p = a.allocate(size_t(3) << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t(2) << 20), 0u);
  a.deallocate(p);
}

}  // namespace
}  // namespace i2v
