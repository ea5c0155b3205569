// The schedule recorder of the SIMT emulator (kernels/sim/simt.h, ScheduleRecorder), the lesson
// kernels (kernels/sim_lesson.h) and `i2v sim-trace` end to end: the trace shows barrier and
// warp-collective semantics, the missing barrier shows up as a wrong sum, recording off records
// nothing.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "data/image.h"
#include "kernels/sim_lesson.h"
#include "kernels/sim_trace_cases.h"
#include "tests/temp_directory.h"
#include "tests/tool_run.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using simt::ScheduleEvent;
using Kind = ScheduleEvent::Kind;

constexpr simt::uint3 kFirstBlock{0, 0, 0};

SimTraceRun run_case(const std::string& name, simt::Schedule schedule, uint64_t seed = 1,
                     simt::uint3 block = kFirstBlock) {
  return run_sim_trace_case(find_sim_trace_case(name), block, schedule, seed);
}

// Barrier semantics, as the trace shows them: no thread resumes after its n-th barrier before
// every thread of the block has arrived at its n-th.
void expect_barriers_hold(const std::vector<ScheduleEvent>& events, unsigned threads) {
  std::map<unsigned, size_t> last_arrival;  // barrier n -> position of the last thread's arrival
  std::map<unsigned, unsigned> arrivals;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].kind == Kind::barrier) {
      last_arrival[events[i].ordinal] = i;
      ++arrivals[events[i].ordinal];
    }
  ASSERT_FALSE(arrivals.empty());
  for (const auto& [barrier, count] : arrivals) EXPECT_EQ(count, threads) << "barrier " << barrier;
  std::vector<unsigned> passed(threads, 0);  // per thread, the barriers it has arrived at
  for (size_t i = 0; i < events.size(); ++i) {
    const ScheduleEvent& e = events[i];
    if (e.kind == Kind::barrier) passed[e.thread] = e.ordinal;
    if (e.kind == Kind::resume && passed[e.thread] > 0) {
      EXPECT_GT(i, last_arrival[passed[e.thread]])
          << "thread " << e.thread << " resumed past barrier " << passed[e.thread] << " before all had arrived";
    }
  }
}

TEST(SimTrace, BarrierArrivalsAllComeBeforeAnyResumePastThem) {
  for (const uint64_t seed : {1u, 2u, 3u}) {
    const SimTraceRun sum = run_case("block-sum", simt::Schedule::shuffled, seed);
    EXPECT_TRUE(sum.right) << sum.result;
    EXPECT_TRUE(sum.unwritten_readers.empty());
    expect_barriers_hold(sum.events, kLessonBlockThreads);
  }
  const SimTraceRun in_order = run_case("block-sum", simt::Schedule::in_order);
  EXPECT_EQ(in_order.result, "sum 2016: right");
  expect_barriers_hold(in_order.events, kLessonBlockThreads);
  const SimTraceRun gemm = run_case("gemm", simt::Schedule::shuffled, 5, simt::uint3{1, 1, 0});
  EXPECT_TRUE(gemm.right) << gemm.result;
  expect_barriers_hold(gemm.events, 256);
}

TEST(SimTrace, MissingBarrierHidesInOrderAndFailsShuffled) {
  // In order, each thread runs from start to exit before the next: its partners (lower threads)
  // have finished, so the sum is right. This is what the lesson kernel's comment says.
  const SimTraceRun in_order = run_case("block-sum-missing-barrier", simt::Schedule::in_order);
  EXPECT_EQ(in_order.result, "sum 2016: right");
  EXPECT_TRUE(in_order.unwritten_readers.empty());
  int wrong = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const SimTraceRun shuffled = run_case("block-sum-missing-barrier", simt::Schedule::shuffled, seed);
    for (const ScheduleEvent& e : shuffled.events) EXPECT_NE(e.kind, Kind::barrier);
    // Without barriers, a thread runs once, from start to exit.
    EXPECT_EQ(shuffled.events.size(), 2u * kLessonBlockThreads);
    if (!shuffled.right) {
      ++wrong;
      EXPECT_NE(shuffled.result.find(", expected 2016: wrong"), std::string::npos) << shuffled.result;
    }
  }
  EXPECT_GE(wrong, 1);
}

// A thread's arrivals, in its own order: what it did, whatever the schedule.
using Arrival = std::tuple<Kind, simt::WarpOp, unsigned>;
std::map<unsigned, std::vector<Arrival>> arrivals_per_thread(const std::vector<ScheduleEvent>& events) {
  std::map<unsigned, std::vector<Arrival>> per_thread;
  for (const ScheduleEvent& e : events)
    if (e.kind != Kind::resume) per_thread[e.thread].push_back({e.kind, e.op, e.ordinal});
  return per_thread;
}

std::vector<unsigned> resume_order(const std::vector<ScheduleEvent>& events) {
  std::vector<unsigned> order;
  for (const ScheduleEvent& e : events)
    if (e.kind == Kind::resume) order.push_back(e.thread);
  return order;
}

TEST(SimTrace, InOrderAndShuffledDoTheSameThingsInAnotherOrder) {
  for (const std::string name : {"block-sum", "softmax"}) {
    const SimTraceRun in_order = run_case(name, simt::Schedule::in_order);
    const SimTraceRun shuffled = run_case(name, simt::Schedule::shuffled, 11);
    EXPECT_EQ(arrivals_per_thread(in_order.events), arrivals_per_thread(shuffled.events)) << name;
    EXPECT_NE(resume_order(in_order.events), resume_order(shuffled.events)) << name;
    // In order, the first pass resumes threads 0, 1, 2, ...
    const std::vector<unsigned> order = resume_order(in_order.events);
    for (unsigned t = 0; t < 8; ++t) EXPECT_EQ(order[t], t) << name;
  }
}

TEST(SimTrace, SoftmaxShufflesAreWarpWide) {
  const SimTraceRun run = run_case("softmax", simt::Schedule::shuffled, 3, simt::uint3{1, 0, 0});
  EXPECT_TRUE(run.right) << run.result;
  // (warp, n) -> the lanes that arrived at their n-th collective, and with which op.
  std::map<std::pair<unsigned, unsigned>, std::vector<unsigned>> lanes;
  std::map<std::pair<unsigned, unsigned>, simt::WarpOp> ops;
  for (const ScheduleEvent& e : run.events) {
    if (e.kind != Kind::warp_collective) continue;
    const std::pair<unsigned, unsigned> key{e.thread / 32, e.ordinal};
    lanes[key].push_back(e.thread % 32);
    const auto [it, first] = ops.emplace(key, e.op);
    EXPECT_EQ(it->second, e.op) << "warp " << key.first << " collective " << key.second;
  }
  ASSERT_FALSE(lanes.empty());
  std::map<unsigned, unsigned> collectives_per_warp;
  for (auto& [key, arrived] : lanes) {
    std::sort(arrived.begin(), arrived.end());
    EXPECT_EQ(arrived.size(), 32u) << "warp " << key.first << " collective " << key.second;
    EXPECT_EQ(std::unique(arrived.begin(), arrived.end()), arrived.end());
    ++collectives_per_warp[key.first];
    EXPECT_STREQ(simt::warp_op_name(ops[key]), "__shfl_xor_sync");
  }
  EXPECT_EQ(collectives_per_warp.size(), 8u);  // 256 threads
  for (const auto& [warp, count] : collectives_per_warp) EXPECT_EQ(count, collectives_per_warp[0]) << "warp " << warp;
}

TEST(SimTrace, TensorCoreGemmShowsItsInstructions) {
  const SimTraceRun run = run_case("gemm-tensor-core", simt::Schedule::shuffled, 2);
  EXPECT_TRUE(run.right) << run.result;
  std::map<std::string, size_t> ops;
  for (const ScheduleEvent& e : run.events)
    if (e.kind == Kind::warp_collective) ++ops[simt::warp_op_name(e.op)];
  EXPECT_GT(ops["mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"], 0u);
  EXPECT_GT(ops["ldmatrix.sync.aligned.m8n8.x4.shared.b16"], 0u);
  expect_barriers_hold(run.events, 256);
}

TEST(SimTrace, NothingIsRecordedWithoutARecorder) {
  std::vector<ScheduleEvent> events;
  std::vector<int> in(kLessonBlockThreads, 1), sums(1, 0), unwritten(kLessonBlockThreads, 0);
  {
    const simt::ScheduleRecorder recorder(simt::uint3{1, 0, 0}, &events);  // a block the launch does not have
    sim::lesson_block_sum(in.data(), sums.data(), unwritten.data(), 1, true);
  }
  EXPECT_TRUE(events.empty());
  {
    const simt::ScheduleRecorder recorder(kFirstBlock, &events);
    sim::lesson_block_sum(in.data(), sums.data(), unwritten.data(), 1, true);
    test::expect_error_containing([&] { simt::ScheduleRecorder second(kFirstBlock, &events); },
                                  "already being recorded");
  }
  const size_t recorded = events.size();
  EXPECT_GT(recorded, 0u);
  sim::lesson_block_sum(in.data(), sums.data(), unwritten.data(), 1, true);
  EXPECT_EQ(events.size(), recorded);
  EXPECT_EQ(sums[0], kLessonBlockThreads);
}

TEST(SimTrace, TheRunnerRefusesABlockOutsideTheGrid) {
  test::expect_error_containing([] { run_case("softmax", simt::Schedule::in_order, 1, simt::uint3{2, 0, 0}); },
                                "outside the grid 2x1x1 of softmax");
  test::expect_error_containing([] { find_sim_trace_case("no-such-kernel"); }, "no kernel case 'no-such-kernel'");
}

// ---- the command ---------------------------------------------------------------------------

using test::ToolRun;

class SimTraceCommand : public test::TempDirectoryTest {
 protected:
  ToolRun i2v(const std::string& args) { return test::run_tool(I2V_TOOL, dir_.string(), args); }
};

bool has_colour(const Image& image, uint8_t r, uint8_t g, uint8_t b) {
  for (size_t i = 0; i + 2 < image.rgb.size(); i += 3)
    if (image.rgb[i] == r && image.rgb[i + 1] == g && image.rgb[i + 2] == b) return true;
  return false;
}

TEST_F(SimTraceCommand, DrawsTheMissingBarrierAndWritesItsEvents) {
  const ToolRun run = i2v("sim-trace block-sum-missing-barrier -o x.png --json x.json");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("in order:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("sum 2016: right"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("expected 2016: wrong"), std::string::npos) << run.out;  // seed 1 is one of the wrong ones
  EXPECT_NE(run.out.find("wrote x.png"), std::string::npos) << run.out;

  const Image picture = load_image(path("x.png"));
  EXPECT_GT(picture.width, 1000);
  EXPECT_GT(picture.height, kLessonBlockThreads * 4);
  EXPECT_LT(picture.width, 4000);
  EXPECT_TRUE(has_colour(picture, 25, 25, 25));    // ran to its exit
  EXPECT_TRUE(has_colour(picture, 205, 205, 205));  // exited
  EXPECT_TRUE(has_colour(picture, 220, 30, 30));   // the mark of a thread that read an unwritten slot
  EXPECT_TRUE(has_colour(picture, 200, 20, 20));   // a wrong result
  EXPECT_TRUE(has_colour(picture, 20, 130, 40));   // a right one
  EXPECT_FALSE(has_colour(picture, 46, 139, 87));  // no barrier 1

  const nlohmann::json document = nlohmann::json::parse(read_file(path("x.json")));
  EXPECT_EQ(document["kernel"], "block-sum-missing-barrier");
  EXPECT_EQ(document["block_dim"], nlohmann::json::array({64, 1, 1}));
  ASSERT_EQ(document["runs"].size(), 2u);
  EXPECT_EQ(document["runs"][0]["schedule"], "in_order");
  EXPECT_TRUE(document["runs"][0]["right"]);
  EXPECT_EQ(document["runs"][1]["schedule"], "shuffled");
  EXPECT_EQ(document["runs"][1]["seed"], 1);
  EXPECT_FALSE(document["runs"][1]["right"]);
  EXPECT_FALSE(document["runs"][1]["unwritten_readers"].empty());
  for (const nlohmann::json& r : document["runs"]) {
    ASSERT_EQ(r["events"].size(), 2u * kLessonBlockThreads);
    std::map<std::string, int> kinds;
    for (const nlohmann::json& e : r["events"]) ++kinds[e["kind"].get<std::string>()];
    EXPECT_EQ(kinds["resume"], kLessonBlockThreads);
    EXPECT_EQ(kinds["exit"], kLessonBlockThreads);
  }
  // In order, thread t runs in step t.
  EXPECT_EQ(document["runs"][0]["events"][10]["thread"], 5);
  EXPECT_EQ(document["runs"][0]["events"][10]["step"], 5);
}

TEST_F(SimTraceCommand, RefusesWhatItCannotDo) {
  const ToolRun unknown = i2v("sim-trace no-such-kernel -o x.png");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no kernel case 'no-such-kernel' (the cases: block-sum,"), std::string::npos)
      << unknown.err;
  const ToolRun outside = i2v("sim-trace block-sum --block 4,0,0");
  EXPECT_EQ(outside.status, 1);
  EXPECT_NE(outside.err.find("block 4,0,0 is outside the grid 4x1x1 of block-sum"), std::string::npos) << outside.err;
  const ToolRun malformed = i2v("sim-trace block-sum --block one");
  EXPECT_EQ(malformed.status, 1);
  EXPECT_NE(malformed.err.find("--block: 'one' is not X,Y,Z"), std::string::npos) << malformed.err;
  ASSERT_EQ(::mkdir(path("folder.png").c_str(), 0755), 0);
  const ToolRun onto_folder = i2v("sim-trace block-sum -o folder.png");
  EXPECT_EQ(onto_folder.status, 1);
  EXPECT_NE(onto_folder.err.find("folder.png"), std::string::npos) << onto_folder.err;
  EXPECT_FALSE(std::filesystem::exists(path("x.png")));
}

}  // namespace
}  // namespace i2v
