// Averages the gradients over the ranks of a data-parallel run (train/process_group.h), while
// the backward pass is still running, as PyTorch's DistributedDataParallel does:
//   - the trained parameters are packed into buckets of about `bucket_bytes`, in the order the
//     backward pass finishes them (the last layers first);
//   - when the backward pass has gone through every layer of a bucket, its gradients, each
//     scaled by this rank's weight (its share of the global batch's samples, so that the result
//     is the gradient of the global batch's loss even when the ranks' slices differ in size), are
//     copied into the bucket and a non-blocking sum over the ranks starts;
//   - the next layers' backward runs while MPI moves the bucket (progress() between layers);
//   - finish() waits for every bucket and writes the sums back into the gradients.
// The sums run on MPI for host memory; a `cuda` run's go GPU to GPU on NCCL when the build has it
// (train/nccl_group.h), through host memory on MPI otherwise.
// With `deterministic`, each bucket is gathered instead of summed and the ranks' parts are added
// in rank order, so that a run is bit-identical to itself for the same number of ranks (MPI's
// sum may pick its order by message size and timing). Both keep every rank's gradients equal.
//
// Usage (train/trainer.cpp):
//   GradientReducer reducer(model, ProcessGroup::world(), {25 << 20, false});
//   reducer.begin_step(samples_here / samples_in_global_batch);
//   model.backward(grad, false, [&](const std::string& layer) { reducer.layer_done(layer); });
//   reducer.finish("step 12");
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"
#include "train/nccl_group.h"
#include "train/process_group.h"

namespace i2v {

struct ReducerOptions {
  double bucket_bytes = 25 << 20;  // DDP's default bucket size
  bool deterministic = false;
};

class GradientReducer {
 public:
  GradientReducer(Model& model, ProcessGroup& group, ReducerOptions options);

  // Before the backward pass: the factor this rank's gradients enter the sum with.
  void begin_step(double weight);
  // After `layer`'s backward: starts the buckets it completes.
  void layer_done(const std::string& layer);
  // After the backward pass: starts what is left, waits for every bucket (at most the group's
  // timeout; `what` names the step in the message) and writes the sums into the gradients.
  void finish(const std::string& what);

  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<Parameter*> parameters;
    std::vector<int64_t> offsets;  // of each parameter in the bucket
    int64_t count = 0;             // floats
    std::map<std::string, int> layers;  // layer -> parameters of it in this bucket
    int waiting = 0;                    // layers whose backward has not finished
    Tensor values;    // [count] on the model's device
    Tensor host;      // on the cpu: what MPI reads and writes
    Tensor gathered;  // deterministic: [ranks × count], where the collective writes
    int handle = -1;
  };
  void start(Bucket& bucket);
  bool on_nccl() const;

  ProcessGroup& group_;
  ReducerOptions options_;
  Device device_;
  std::vector<Bucket> buckets_;
  std::map<std::string, std::vector<size_t>> buckets_of_layer_;
  double weight_ = 1.0;
#if I2V_HAVE_NCCL
  std::unique_ptr<NcclGroup> nccl_;  // a cuda run's
#endif
};

}  // namespace i2v
