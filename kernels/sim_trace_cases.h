// The kernels `i2v sim-trace` can show (apps/sim_trace_command.cpp): each is run on the sim
// device with small fixed inputs, through its normal dispatch, while one block's schedule is
// recorded (simt::ScheduleRecorder), and its result is checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/sim/simt.h"

namespace i2v {

struct SimTraceCase {
  std::string name;         // "block-sum", "softmax", ...
  std::string description;  // one line, for --help
  simt::dim3 grid;          // of the launch, with these inputs
  simt::dim3 block;
};

// Every case, in the order --help lists them.
const std::vector<SimTraceCase>& sim_trace_cases();
// The case called `name`; throws naming the cases when there is none.
const SimTraceCase& find_sim_trace_case(const std::string& name);

// One run of a case, with the schedule of one of its blocks.
struct SimTraceRun {
  std::vector<simt::ScheduleEvent> events;  // of the recorded block, in order
  bool right = false;                       // the result matches its reference
  std::string result;                       // "sum 2016: right", "sum 1890, expected 2016: wrong", ...
  // The block-sum cases: the threads of the recorded block that read a slot no thread had written.
  std::vector<unsigned> unwritten_readers;
};

// Runs `which` on the sim device in `schedule` (seeded by `seed`; the process's own schedule is
// put back afterwards), recording block `block`, which must lie in the case's grid (else throws).
SimTraceRun run_sim_trace_case(const SimTraceCase& which, simt::uint3 block, simt::Schedule schedule,
                               uint64_t seed);

}  // namespace i2v
