// The picture of `i2v sim-trace`: one block's schedule on the sim device, one panel per run
// (in order, shuffled), side by side. In a panel each row is a thread of the block and each column
// a scheduler step (one resume: the thread it hands the CPU to runs until it stops), so time runs
// left to right. A cell says what its thread did in that step:
//   - strong colour: it ran, up to its n-th __syncthreads() (a colour per barrier), up to a warp
//     collective (a colour per family: shuffles, votes, __syncwarp, ldmatrix, mma) or to its exit;
//   - pale colour: it waits at that barrier or collective, which has not completed yet;
//   - white: it may run (not started yet, or released) and waits for its turn;
//   - light grey: it has exited.
#pragma once

#include <string>
#include <vector>

#include "data/image.h"
#include "kernels/sim/simt.h"

namespace i2v {

struct SchedulePanel {
  std::string title;                              // "in order", "shuffled (seed 7)"
  const std::vector<simt::ScheduleEvent>* events;  // one block's, in order
  std::string result;                             // written under the panel
  bool right = true;                              // the result is drawn green when right, red when wrong
  std::vector<unsigned> marked_threads;           // drawn with a red mark left of their row
  std::string mark_meaning;                       // the mark's legend ("read a slot no thread had written")
};

// The panels side by side under `title`, with a legend. The block has `threads` threads; only the
// first `rows` are drawn. A panel wider than about 1000 columns shows several steps per column
// (a thread that ran in any of them is drawn as running).
Image draw_schedule_panels(const std::string& title, const std::vector<SchedulePanel>& panels, unsigned threads,
                           unsigned rows);

// What the picture groups warp collectives into: "shuffle", "vote", "syncwarp", "ldmatrix", "mma".
const char* warp_op_family(simt::WarpOp op);

}  // namespace i2v
