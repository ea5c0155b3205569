// The caching allocator reuses freed blocks and reports current and peak use.
#include <gtest/gtest.h>

#include "kernels/allocator.h"
#include "kernels/error.h"
#include "nn/tensor.h"

namespace i2v {
namespace {

class CachingAllocatorTest : public testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (!allocator(GetParam()).caching()) GTEST_SKIP() << "caching is off (I2V_ALLOCATOR_CACHE=0 or a sanitizer build)";
  }
};

TEST_P(CachingAllocatorTest, FreedBlocksAreReused) {
  Allocator& a = allocator(GetParam());
  a.empty_cache();
  const AllocatorStats before = a.stats();
  void* first = a.allocate(10000);
  a.deallocate(first);
  void* second = a.allocate(10000);
  EXPECT_EQ(second, first) << "a block of the same size class comes back from the cache";
  void* nearby = a.allocate(9800);  // same size class as 10000 (steps of 1 KiB at this size)
  EXPECT_NE(nearby, second);
  a.deallocate(second);
  a.deallocate(nearby);
  void* again = a.allocate(9900);
  EXPECT_TRUE(again == first || again == nearby);
  a.deallocate(again);
  const AllocatorStats after = a.stats();
  EXPECT_EQ(after.allocations - before.allocations, 4u);
  EXPECT_EQ(after.cache_hits - before.cache_hits, 2u);
  EXPECT_EQ(after.device_allocations - before.device_allocations, 2u);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

TEST_P(CachingAllocatorTest, CurrentAndPeakBytes) {
  Allocator& a = allocator(GetParam());
  a.empty_cache();
  a.reset_peak();
  const size_t base = a.stats().in_use_bytes;
  {
    Tensor big = Tensor::empty({1 << 20}, DType::f32, GetParam());  // 4 MiB
    Tensor small = Tensor::empty({1000}, DType::f32, GetParam());
    EXPECT_EQ(a.stats().in_use_bytes - base, size_t(4 << 20) + 4096);
  }
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.in_use_bytes, base);
  EXPECT_EQ(s.peak_in_use_bytes - base, size_t(4 << 20) + 4096);
  EXPECT_GE(s.reserved_bytes, size_t(4 << 20) + 4096) << "freed blocks stay cached";
  a.empty_cache();
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().in_use_bytes);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_in_use_bytes, base);
}

TEST_P(CachingAllocatorTest, FreeingAForeignPointerIsAnError) {
  int local = 0;
  EXPECT_THROW(allocator(GetParam()).deallocate(&local), Error);
}

std::vector<Device> caching_devices() {
  std::vector<Device> devices = {Device::sim()};
  if (cuda_available()) devices.push_back(Device::cuda());
  return devices;
}

INSTANTIATE_TEST_SUITE_P(Devices, CachingAllocatorTest, testing::ValuesIn(caching_devices()),
                         [](const testing::TestParamInfo<Device>& info) { return info.param.name(); });

TEST(HostAllocator, TracksBytesAndAligns) {
  Allocator& a = allocator(Device::cpu());
  const size_t base = a.stats().in_use_bytes;
  void* p = a.allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(a.stats().in_use_bytes - base, 1000u);
  a.deallocate(p);
  EXPECT_EQ(a.stats().in_use_bytes, base);
  EXPECT_FALSE(a.caching());
}

}  // namespace
}  // namespace i2v
