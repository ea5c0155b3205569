#include "train/process_group.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include <mpi.h>

#include "base/error.h"

namespace i2v {
namespace {

// The started non-blocking collectives, by handle (one world per process).
std::map<int, MPI_Request>& requests() {
  static std::map<int, MPI_Request> started;
  return started;
}

// Keeps a started collective; its handle for wait().
int remember(MPI_Request request) {
  static int next_handle = 0;
  requests()[next_handle] = request;
  return next_handle++;
}

bool started_by_mpi_launcher() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  I2V_THROW("{} failed: {}", call, std::string(text, size_t(length)));
}

}  // namespace

ProcessGroup::ProcessGroup() {
  if (!started_by_mpi_launcher()) return;
  int provided = 0;
  // One thread calls MPI (the training loop); the data loader's workers never do.
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  mpi_ = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm machine;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine),
            "MPI_Comm_split_type");
  MPI_Comm_rank(machine, &local_rank_);
  MPI_Comm_free(&machine);
}

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup group;
  return group;
}

std::string ProcessGroup::name() const { return distributed() ? fmt::format("rank {} of {}", rank_, size_) : ""; }

std::vector<double> ProcessGroup::gather(const std::vector<double>& values, const std::string& what) {
  if (!distributed()) return values;
  std::vector<double> gathered(values.size() * size_t(size_));
  MPI_Request request;
  check_mpi(MPI_Iallgather(values.data(), int(values.size()), MPI_DOUBLE, gathered.data(), int(values.size()),
                           MPI_DOUBLE, MPI_COMM_WORLD, &request),
            "MPI_Iallgather");
  wait(remember(request), what);
  return gathered;
}

void ProcessGroup::sum(std::vector<double>& values, const std::string& what) {
  if (!distributed()) return;
  // Gathered, then added in rank order: MPI's own sum may add in another order on each rank.
  const std::vector<double> gathered = gather(values, what);
  for (size_t i = 0; i < values.size(); ++i) {
    double total = 0;
    for (int r = 0; r < size_; ++r) total += gathered[size_t(r) * values.size() + i];
    values[i] = total;
  }
}

void ProcessGroup::broadcast(std::vector<double>& values, const std::string& what) {
  broadcast_bytes(values.data(), int(values.size() * sizeof(double)), what);
}

void ProcessGroup::broadcast_bytes(void* bytes, int count, const std::string& what) {
  if (!distributed()) return;
  MPI_Request request;
  check_mpi(MPI_Ibcast(bytes, count, MPI_BYTE, 0, MPI_COMM_WORLD, &request), "MPI_Ibcast");
  wait(remember(request), what);
}

void ProcessGroup::barrier(const std::string& what) {
  if (!distributed()) return;
  MPI_Request request;
  check_mpi(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  wait(remember(request), what);
}

int ProcessGroup::start_sum(float* values, long count) {
  I2V_CHECK(mpi_, "start_sum needs a distributed run");
  MPI_Request request;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, values, int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request),
            "MPI_Iallreduce");
  return remember(request);
}

int ProcessGroup::start_gather(const float* values, long count, float* gathered) {
  I2V_CHECK(mpi_, "start_gather needs a distributed run");
  MPI_Request request;
  check_mpi(MPI_Iallgather(values, int(count), MPI_FLOAT, gathered, int(count), MPI_FLOAT, MPI_COMM_WORLD, &request),
            "MPI_Iallgather");
  return remember(request);
}

void ProcessGroup::progress() {
  for (auto& [handle, request] : requests()) {
    int done = 0;
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
  }
}

void ProcessGroup::wait(int handle, const std::string& what) {
  auto found = requests().find(handle);
  I2V_CHECK(found != requests().end(), "no started collective {}", handle);
  // Polled, not MPI_Wait: a rank that never answers must not hold this one for ever.
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(1);
  while (true) {
    int done = 0;
    check_mpi(MPI_Test(&found->second, &done, MPI_STATUS_IGNORE), "MPI_Test");
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done) {
      seconds_waiting_ += waited;
      break;
    }
    if (waited > timeout_seconds_) {
      std::fprintf(stderr,
                   "i2v: %s: error: no answer from the other ranks for %.0f s in %s; a rank has stopped or hangs. "
                   "Stopping every rank.\n",
                   name().c_str(), waited, what.c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(500));
  }
  requests().erase(found);
}

void ProcessGroup::finish(int exit_code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  ProcessGroup& group = world();
  // An error on one rank (not an interruption, which every rank agrees on) stops them all.
  if (exit_code != 0 && exit_code < 128 && group.distributed()) {
    std::fprintf(stderr, "i2v: %s failed (exit status %d): stopping every rank\n", group.name().c_str(), exit_code);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  MPI_Finalize();
}

}  // namespace i2v
