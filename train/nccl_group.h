// The GPUs of a distributed run, one per rank, connected by NCCL (shipped with the CUDA toolkit):
// the gradient sums of `cuda` runs (train/gradient_reducer.h) go GPU to GPU over NVLink or the
// network instead of through host memory. Rank 0 makes NCCL's id and MPI hands it to the others
// (train/process_group.h). The collectives run on the default stream, after the kernels that
// filled their buffers; wait() polls them, so that a rank that hangs stops the others after the
// group's timeout (NCCL's own wait has none), as MPI's collectives do.
//
// Built only with the CUDA toolkit's NCCL (I2V_HAVE_NCCL); exercised where a machine has GPUs.
#pragma once

#include "i2v_config.h"

#if I2V_HAVE_NCCL

#include <string>

#include "train/process_group.h"

namespace i2v {

class NcclGroup {
 public:
  // Collective: every rank of `group` must make one (after choosing its GPU).
  explicit NcclGroup(ProcessGroup& group);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  // `count` floats of GPU memory, summed over the ranks in place.
  void start_sum(float* values, long count);
  // Every rank's `count` floats into `gathered` ([ranks × count], rank r's at r × count).
  void start_gather(const float* values, long count, float* gathered);
  // Waits for everything started (at most the group's timeout; `what` names it then).
  void wait(const std::string& what);

 private:
  ProcessGroup& group_;
  void* communicator_ = nullptr;  // ncclComm_t
};

}  // namespace i2v

#endif  // I2V_HAVE_NCCL
