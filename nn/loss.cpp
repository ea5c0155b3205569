#include "nn/loss.h"

namespace i2v {

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::batch_mean: return "batch_mean";
  }
  return "?";
}

}  // namespace i2v
