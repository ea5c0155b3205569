// The cases of `i2v sim-trace` (see sim_trace_cases.h): inputs, the run on `sim`, the check.
#include "kernels/sim_trace_cases.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/error.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "kernels/sim_lesson.h"
#include "kernels/softmax.h"

namespace i2v {
namespace {

// Small inputs: enough for two blocks or more where the kernel allows, few enough that a
// block's picture stays readable.
constexpr int kSumBlocks = 4;
constexpr int64_t kSoftmaxRows = 16, kSoftmaxChannels = 64;      // 8 rows (warps) a block: 2 blocks
constexpr int64_t kGemmRows = 128, kGemmColumns = 128, kGemmDepth = 32;  // 64×64 tiles: 2×2 blocks
constexpr int64_t kTensorCoreDepth = 16;                           // one 128×128 tile: 1 block

// Varied values in [-1, 1], the same on every run.
std::vector<float> wavy_values(size_t n, float phase) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = std::sin(0.37f * float(i) + phase);
  return values;
}

std::string verdict(bool right) { return right ? "right" : "wrong"; }

// The lesson: block b sums the values 64·b .. 64·b + 63.
void run_block_sum(bool with_barriers, const simt::uint3& block, SimTraceRun& run) {
  std::vector<int> in(size_t(kSumBlocks) * kLessonBlockThreads);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i);
  std::vector<int> sums(kSumBlocks, 0), unwritten_reads(in.size(), 0);
  I2V_DISPATCH_GPU(Device::sim(), lesson_block_sum, in.data(), sums.data(), unwritten_reads.data(), kSumBlocks,
                   with_barriers);
  const int first = int(block.x) * kLessonBlockThreads, last = first + kLessonBlockThreads - 1;
  const int expected = (first + last) * kLessonBlockThreads / 2;
  const int sum = sums[block.x];
  run.right = sum == expected;
  run.result = run.right ? fmt::format("sum {}: right", sum) : fmt::format("sum {}, expected {}: wrong", sum, expected);
  for (unsigned t = 0; t < unsigned(kLessonBlockThreads); ++t)
    if (unwritten_reads[size_t(first) + t] > 0) run.unwritten_readers.push_back(t);
}

// The largest difference between `got` and `expected`, judged against `tolerance`.
void compare(const std::vector<float>& got, const std::vector<float>& expected, float tolerance, SimTraceRun& run) {
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float error = std::fabs(got[i] - expected[i]);
    worst = std::isnan(error) ? NAN : std::max(worst, error);
  }
  run.right = worst <= tolerance;  // false for NaN
  run.result = fmt::format("largest |difference| from the cpu {:.2g} (tolerance {:.2g}): {}", worst, tolerance,
                           verdict(run.right));
}

void run_softmax(SimTraceRun& run) {
  const std::vector<float> x = wavy_values(size_t(kSoftmaxRows * kSoftmaxChannels), 0.5f);
  std::vector<float> y(x.size(), NAN), reference(x.size(), NAN);
  I2V_DISPATCH(Device::sim(), softmax_forward, x.data(), kSoftmaxRows, kSoftmaxChannels, int64_t(1), y.data(),
               static_cast<float*>(nullptr));
  I2V_DISPATCH(Device::cpu(), softmax_forward, x.data(), kSoftmaxRows, kSoftmaxChannels, int64_t(1),
               reference.data(), static_cast<float*>(nullptr));
  compare(y, reference, 1e-6f, run);
}

// C = A·B at `precision`: fp32 takes the tiled SIMT kernel, tf32 the tensor-core one.
void run_gemm(Precision precision, int64_t depth, SimTraceRun& run) {
  const PrecisionScope scope(precision);
  const std::vector<float> a = wavy_values(size_t(kGemmRows * depth), 0.1f),
                           b = wavy_values(size_t(depth * kGemmColumns), 1.3f);
  std::vector<float> c(size_t(kGemmRows * kGemmColumns), NAN), reference(c.size(), NAN);
  I2V_DISPATCH(Device::sim(), gemm, false, false, kGemmRows, kGemmColumns, depth, 1.0f, a.data(), depth, b.data(),
               kGemmColumns, 0.0f, c.data(), kGemmColumns);
  {
    const PrecisionScope fp32(Precision::fp32);
    I2V_DISPATCH(Device::cpu(), gemm, false, false, kGemmRows, kGemmColumns, depth, 1.0f, a.data(), depth, b.data(),
                 kGemmColumns, 0.0f, reference.data(), kGemmColumns);
  }
  // tf32 keeps 10 bits of each operand: a relative error of ~1e-3 per product, of sums of up to
  // `depth` terms of magnitude <= 1.
  const float tolerance = precision == Precision::fp32 ? 1e-4f : 2e-3f * float(depth);
  compare(c, reference, tolerance, run);
}

bool inside(const simt::uint3& block, const simt::dim3& grid) {
  return block.x < grid.x && block.y < grid.y && block.z < grid.z;
}

}  // namespace

const std::vector<SimTraceCase>& sim_trace_cases() {
  static const std::vector<SimTraceCase> cases = {
      {"block-sum", "the lesson: a 64-thread tree sum in shared memory, a __syncthreads() between levels",
       simt::dim3(kSumBlocks), simt::dim3(kLessonBlockThreads)},
      {"block-sum-missing-barrier", "the same sum without its barriers (wrong on purpose)", simt::dim3(kSumBlocks),
       simt::dim3(kLessonBlockThreads)},
      {"softmax", "softmax_forward of 16 rows of 64: a warp per row, warp shuffles, no barrier",
       simt::dim3(unsigned(kSoftmaxRows / 8)), simt::dim3(256)},
      {"gemm", "the tiled fp32 gemm (64x64x16 tiles, 256 threads) of 128x32 by 32x128: barriers",
       simt::dim3(unsigned(kGemmColumns / 64), unsigned(kGemmRows / 64)), simt::dim3(16, 16)},
      {"gemm-tensor-core", "the tf32 tensor-core gemm (128x128x32 tile) of 128x16 by 16x128: cp.async, ldmatrix, mma",
       simt::dim3(1), simt::dim3(256)},
  };
  return cases;
}

const SimTraceCase& find_sim_trace_case(const std::string& name) {
  std::string names;
  for (const SimTraceCase& c : sim_trace_cases()) {
    if (c.name == name) return c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  I2V_THROW("no kernel case '{}' (the cases: {})", name, names);
}

SimTraceRun run_sim_trace_case(const SimTraceCase& which, simt::uint3 block, simt::Schedule schedule,
                               uint64_t seed) {
  I2V_CHECK(inside(block, which.grid), "block {},{},{} is outside the grid {}x{}x{} of {}", block.x, block.y, block.z,
            which.grid.x, which.grid.y, which.grid.z, which.name);
  const simt::ScheduleScope scope(schedule, seed);
  SimTraceRun run;
  const simt::ScheduleRecorder recorder(block, &run.events);
  if (which.name == "block-sum") run_block_sum(true, block, run);
  else if (which.name == "block-sum-missing-barrier") run_block_sum(false, block, run);
  else if (which.name == "softmax") run_softmax(run);
  else if (which.name == "gemm") run_gemm(Precision::fp32, kGemmDepth, run);
  else if (which.name == "gemm-tensor-core") run_gemm(Precision::tf32, kTensorCoreDepth, run);
  else I2V_THROW("sim-trace: the case {} has no runner", which.name);
  I2V_CHECK(!run.events.empty(), "{}: block {},{},{} ran no thread (is the case's grid right?)", which.name, block.x,
            block.y, block.z);
  return run;
}

}  // namespace i2v
