// The SIMT emulator reproduces CUDA's semantics: barriers, shared memory, warp intrinsics,
// atomics, launch limits — and reports what a GPU would hang on or silently get wrong.
// The semantics tests also run on a real GPU when one is present.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/sim/simt.h"
#include "tests/sim_test_kernels.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::expect_error_containing;
using test::test_rng;

class SimSemantics : public testing::TestWithParam<Device> {};

TEST_P(SimSemantics, SharedMemoryTreeReductionWithBarriers) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int blocks = 7;
  Tensor in = test::random_tensor({blocks * 256}, rng, device);
  Tensor out = Tensor::full({blocks}, NAN, DType::f32, device);
  RUN_ON(device, block_sum, in.data<float>(), out.data<float>(), blocks);
  const std::vector<float> x = in.to_vector<float>(), y = out.to_vector<float>();
  for (int b = 0; b < blocks; ++b) {
    const double expected = std::accumulate(x.begin() + b * 256, x.begin() + (b + 1) * 256, 0.0);
    EXPECT_NEAR(y[size_t(b)], expected, 1e-4) << "block " << b;
  }
}

TEST_P(SimSemantics, WarpShuffleAndBallot) {
  const Device device = GetParam();
  auto rng = test_rng();
  const int warps = 12;
  Tensor in = test::random_tensor({warps * 32}, rng, device);
  Tensor sums = Tensor::full({warps}, NAN, DType::f32, device);
  Tensor xor_sums = Tensor::full({warps}, NAN, DType::f32, device);
  Tensor ballots = Tensor::full({warps}, 7, DType::i32, device);
  RUN_ON(device, warp_sums, in.data<float>(), sums.data<float>(),
         reinterpret_cast<unsigned*>(ballots.data<int32_t>()), xor_sums.data<float>(), warps);
  const std::vector<float> x = in.to_vector<float>(), s = sums.to_vector<float>(), b = xor_sums.to_vector<float>();
  const std::vector<int32_t> votes = ballots.to_vector<int32_t>();
  for (int w = 0; w < warps; ++w) {
    double expected = 0;
    uint32_t positive = 0;
    for (int l = 0; l < 32; ++l) {
      expected += x[size_t(w * 32 + l)];
      if (x[size_t(w * 32 + l)] > 0) positive |= 1u << l;
    }
    EXPECT_NEAR(s[size_t(w)], expected, 1e-4) << "warp " << w;
    EXPECT_NEAR(b[size_t(w)], expected, 1e-4) << "warp " << w << " (xor butterfly)";
    EXPECT_EQ(uint32_t(votes[size_t(w)]), positive) << "warp " << w;
  }
}

TEST_P(SimSemantics, AtomicsUnderContention) {
  const Device device = GetParam();
  const int blocks = 8, threads = 256, total = blocks * threads;
  Tensor counters = Tensor::from_vector<int32_t>({0, -1, 0, -1}, {4}, device);
  Tensor sum = Tensor::zeros({1}, DType::f32, device);
  RUN_ON(device, atomics, counters.data<int32_t>(), sum.data<float>(), blocks, threads);
  const std::vector<int32_t> c = counters.to_vector<int32_t>();
  EXPECT_EQ(c[0], total);
  EXPECT_EQ(c[1], total - 1);
  EXPECT_EQ(c[2], total);
  EXPECT_GE(c[3], 0);
  EXPECT_LT(c[3], total);
  EXPECT_EQ(sum.item<float>({0}), float(total));
}

TEST_P(SimSemantics, ThreeDimensionalGridsAndBlocks) {
  const Device device = GetParam();
  const unsigned gx = 3, gy = 2, gz = 2, bx = 4, by = 3, bz = 5;
  const int n = int(gx * gy * gz * bx * by * bz);
  Tensor out = Tensor::full({n}, -7, DType::i32, device);
  RUN_ON(device, write_indices, out.data<int32_t>(), gx, gy, gz, bx, by, bz);
  const std::vector<int32_t> v = out.to_vector<int32_t>();
  for (int i = 0; i < n; ++i) ASSERT_EQ(v[size_t(i)], i);
}

TEST_P(SimSemantics, BlockOverTheThreadLimitFailsAsOnAGpu) {
  const Device device = GetParam();
  Tensor out = Tensor::zeros({1025}, DType::i32, device);
  RUN_ON(device, launch_block_of, 1024, out.data<int32_t>());
  EXPECT_EQ(out.item<int32_t>({1023}), 1023);
  expect_error_containing([&] { RUN_ON(device, launch_block_of, 1025, out.data<int32_t>()); }, "invalid argument");
}

TEST_P(SimSemantics, DynamicSharedMemoryAbove48KiBNeedsOptIn) {
  const Device device = GetParam();
  Tensor out = Tensor::full({64}, -1, DType::i32, device);
  expect_error_containing(
      [&] { RUN_ON(device, launch_with_dynamic_shared, size_t(64) * 1024, false, out.data<int32_t>()); },
      "invalid argument");
  RUN_ON(device, launch_with_dynamic_shared, size_t(64) * 1024, true, out.data<int32_t>());
  const std::vector<int32_t> v = out.to_vector<int32_t>();
  for (int t = 0; t < 64; ++t) EXPECT_EQ(v[size_t(t)], 63 - t);
  expect_error_containing(
      [&] { RUN_ON(device, launch_with_dynamic_shared, size_t(300) * 1024, true, out.data<int32_t>()); },
      "invalid argument");
}

INSTANTIATE_TEST_SUITE_P(Devices, SimSemantics, testing::ValuesIn(test::gpu_devices()), test::device_name);

// Restores the test run's shuffled schedule when a test that changed it ends.
struct ScheduleGuard {
  ~ScheduleGuard() { simt::set_schedule(simt::Schedule::shuffled, test::run_seed()); }
};

TEST(SimSchedule, MissingBarrierHidesInThreadOrderAndShowsWhenShuffled) {
  ScheduleGuard guard;
  auto rng = test_rng();
  const int blocks = 3;
  Tensor in = test::random_tensor({blocks * 256}, rng, Device::sim());
  Tensor out = Tensor::full({blocks * 256}, NAN, DType::f32, Device::sim());
  const std::vector<float> x = in.to_vector<float>();
  auto matches_reference = [&] {
    const std::vector<float> y = out.to_vector<float>();
    for (size_t i = 0; i < y.size(); ++i) {
      const float expected = i % 256 ? x[i] - x[i - 1] : x[i];
      if (!(y[i] == expected)) return false;
    }
    return true;
  };
  simt::set_schedule(simt::Schedule::in_order, 0);
  sim::test::adjacent_difference_missing_barrier(in.data<float>(), out.data<float>(), blocks);
  EXPECT_TRUE(matches_reference()) << "in thread order the race happens to give the right answer";
  simt::set_schedule(simt::Schedule::shuffled, test::run_seed());
  sim::test::adjacent_difference_missing_barrier(in.data<float>(), out.data<float>(), blocks);
  EXPECT_FALSE(matches_reference()) << "the shuffled schedule must expose the missing __syncthreads()";
}

TEST(SimSharedMemory, UnwrittenSharedMemoryReadsAsNaN) {
  Tensor out = Tensor::zeros({32}, DType::f32, Device::sim());
  sim::test::read_unwritten_shared(out.data<float>());
  for (float v : out.to_vector<float>()) EXPECT_TRUE(std::isnan(v));
}

TEST(SimErrors, BarrierAfterAnEarlyReturnIsReported) {
  Tensor out = Tensor::zeros({64}, DType::i32, Device::sim());
  expect_error_containing([&] { sim::test::barrier_after_early_return(out.data<int32_t>()); },
                          "barrier divergence");
}

TEST(SimErrors, ShuffleNamingExitedLanesIsReported) {
  Tensor out = Tensor::zeros({32}, DType::i32, Device::sim());
  expect_error_containing([&] { sim::test::shuffle_naming_exited_lanes(out.data<int32_t>()); },
                          "already exited");
}

TEST(SimErrors, DeadlockIsReported) {
  Tensor out = Tensor::zeros({64}, DType::i32, Device::sim());
  expect_error_containing([&] { sim::test::divergent_barrier_and_warp_sync(out.data<int32_t>()); },
                          "deadlock");
}

TEST(SimErrors, TheEmulatorStaysUsableAfterAnError) {
  Tensor out = Tensor::zeros({64}, DType::i32, Device::sim());
  EXPECT_THROW(sim::test::barrier_after_early_return(out.data<int32_t>()), Error);
  auto rng = test_rng();
  Tensor in = test::random_tensor({256}, rng, Device::sim());
  Tensor sum = Tensor::full({1}, NAN, DType::f32, Device::sim());
  sim::test::block_sum(in.data<float>(), sum.data<float>(), 1);
  const std::vector<float> x = in.to_vector<float>();
  EXPECT_NEAR(sum.item<float>({0}), std::accumulate(x.begin(), x.end(), 0.0), 1e-4);
}

TEST(CudaDevice, AvailableOrSkippedWithReason) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU: " << cuda_unavailable_reason();
  EXPECT_NE(describe_devices().find("cuda  CUDA kernels on"), std::string::npos);
}

}  // namespace
}  // namespace i2v
