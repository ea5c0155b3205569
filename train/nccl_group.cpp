#include "train/nccl_group.h"

#if I2V_HAVE_NCCL

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <cuda_runtime.h>
#include <nccl.h>

#include "base/error.h"

namespace i2v {
namespace {

ncclComm_t comm_of(void* communicator) { return static_cast<ncclComm_t>(communicator); }

void check_nccl(ncclResult_t status, const char* call) {
  I2V_CHECK(status == ncclSuccess || status == ncclInProgress, "{} failed: {}", call, ncclGetErrorString(status));
}

}  // namespace

NcclGroup::NcclGroup(ProcessGroup& group) : group_(group) {
  ncclUniqueId id;
  if (group_.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  group_.broadcast_bytes(&id, int(sizeof id), "the NCCL id from rank 0");
  ncclComm_t communicator;
  check_nccl(ncclCommInitRank(&communicator, group_.size(), id, group_.rank()), "ncclCommInitRank");
  communicator_ = communicator;
}

NcclGroup::~NcclGroup() { ncclCommDestroy(comm_of(communicator_)); }

void NcclGroup::start_sum(float* values, long count) {
  check_nccl(ncclAllReduce(values, values, size_t(count), ncclFloat, ncclSum, comm_of(communicator_), nullptr),
             "ncclAllReduce");
}

void NcclGroup::start_gather(const float* values, long count, float* gathered) {
  check_nccl(ncclAllGather(values, gathered, size_t(count), ncclFloat, comm_of(communicator_), nullptr),
             "ncclAllGather");
}

void NcclGroup::wait(const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    const cudaError_t status = cudaStreamQuery(nullptr);
    if (status == cudaSuccess) return;
    I2V_CHECK(status == cudaErrorNotReady, "waiting for {}: {}", what, cudaGetErrorString(status));
    ncclResult_t failure = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(comm_of(communicator_), &failure), "ncclCommGetAsyncError");
    check_nccl(failure, "an NCCL collective");
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > group_.timeout()) {
      std::fprintf(stderr,
                   "i2v: %s: error: no answer from the other ranks' GPUs for %.0f s in %s; a rank has stopped or "
                   "hangs. Stopping every rank.\n",
                   group_.name().c_str(), waited, what.c_str());
      ncclCommAbort(comm_of(communicator_));
      ProcessGroup::finish(1);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace i2v

#endif  // I2V_HAVE_NCCL
