#include "nn/loss.h"

namespace i2v {

const char* reduction_name(Reduction reduction) { return reduction == Reduction::mean ? "mean" : "sum"; }

}  // namespace i2v
