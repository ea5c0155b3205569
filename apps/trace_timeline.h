// A kernel trace (kernels/trace.h) drawn as a timeline, as a profiler shows one: time to the
// right, a track per host thread (its layer spans, ops and cpu kernels, nested downwards) and a
// track per GPU device it launched on (the launches), each span a bar coloured by its name.
#pragma once

#include <string>
#include <vector>

#include "data/image.h"
#include "kernels/trace.h"

namespace i2v {

// The events that overlap [from_us, to_us] drawn `width` pixels wide, with a time axis in ms, a
// title, and a legend of the kernels that took the most time in the window.
Image draw_trace_timeline(const std::vector<trace::Event>& events, double from_us, double to_us, int width,
                          const std::string& title);

}  // namespace i2v
