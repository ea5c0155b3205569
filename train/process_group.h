// The processes of one data-parallel training run and what they do together.
//
// `mpirun -np R i2v train ...` (or `srun`) starts R copies of the program; MPI (OpenMPI from
// Debian) connects them. Rank r trains on its slice of every global batch (data/data_loader.h),
// the gradients are averaged across the ranks every step (train/gradient_reducer.h), and rank 0
// alone writes checkpoints, logs and weights while the others wait. A process started any other
// way is a group of one: nothing here touches MPI then, and a single-process run is exactly what
// it was before.
//
// Every collective waits at most timeout() seconds: a rank that hangs (a dead disk, a stopped
// process) makes the others stop with a message naming the step and the collective, instead of
// waiting for ever. A rank that dies is noticed by the launcher, which stops the others and names
// the rank (mpirun: "process rank 1 ... exited on signal 9"). A rank that fails with an error
// prints it with its rank and stops the whole job (finish()).
#pragma once

#include <string>
#include <vector>

namespace i2v {

class ProcessGroup {
 public:
  // The group this process belongs to. The first call initialises MPI when an MPI launcher
  // started the process (its environment says so: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK).
  static ProcessGroup& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  // This process's index among the ranks on its machine: the GPU it uses.
  int local_rank() const { return local_rank_; }
  bool distributed() const { return size_ > 1; }
  // Rank 0 writes the run's files; the others only train.
  bool writes() const { return rank_ == 0; }
  // "rank 1 of 4" (empty for a group of one), for messages.
  std::string name() const;

  double timeout() const { return timeout_seconds_; }
  // Seconds spent so far waiting for collectives to complete: moving the data, and waiting for
  // slower ranks (a training log line reports its share of the time).
  double seconds_waiting() const { return seconds_waiting_; }
  void set_timeout(double seconds) { timeout_seconds_ = seconds; }

  // Sums `values` over the ranks; every rank gets the same sum, added in rank order (so the same
  // bits everywhere and for every run). `what` names the collective in a timeout's message.
  void sum(std::vector<double>& values, const std::string& what);
  // Every rank's `values` (the same count on each), rank r's at [r·count, (r+1)·count).
  std::vector<double> gather(const std::vector<double>& values, const std::string& what);
  // Rank 0's `values` to every rank.
  void broadcast(std::vector<double>& values, const std::string& what);
  void broadcast_bytes(void* bytes, int count, const std::string& what);
  void barrier(const std::string& what);

  // A non-blocking collective on float memory of the host: started, tested, waited for.
  // sum: the elementwise sum over the ranks, in place. gather: every rank's `count` floats into
  // `gathered` ([size × count], rank r's at r × count).
  // Returns a handle for wait().
  int start_sum(float* values, long count);
  int start_gather(const float* values, long count, float* gathered);
  // Lets MPI move the started collectives along (called between layers of the backward pass:
  // MPI advances a non-blocking collective only inside its own calls).
  void progress();
  void wait(int handle, const std::string& what);

  // At exit (apps/i2v.cpp): with MPI, a clean exit finalizes it and a failed one (exit_code != 0)
  // says which rank failed and stops every rank (MPI_Abort), so none waits for it.
  static void finish(int exit_code);

 private:
  ProcessGroup();

  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  bool mpi_ = false;
  double timeout_seconds_ = 1800;
  double seconds_waiting_ = 0;
};

}  // namespace i2v
