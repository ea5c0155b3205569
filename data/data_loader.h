// Batches for the training step, decoded and augmented ahead of it by worker threads.
//
// The order of the samples and every random augmentation depend only on (seed, epoch, sample
// index) — never on the number of workers or on thread timing — so a run replays exactly, and a
// run resumed from a saved position() continues with exactly the batches it would have had:
//   - epoch e visits the samples in a permutation drawn from (seed, e) (or in order);
//   - sample i of epoch e is augmented with the seed augment_seed(seed, e, i);
//   - the global batch b of epoch e holds permutation[b * G, (b + 1) * G), G = batch_size × ranks;
//     rank r of a distributed run (train/process_group.h) takes its r-th slice of batch_size, so
//     the ranks' batches together are exactly the batches of one process with batch G.
// A position counts samples of the epoch's permutation (across every rank), so a run can resume
// with another number of ranks or another batch size.
// Workers each build whole batches; at most `prefetch` batches are built ahead of the consumer
// (a bounded queue), and they are handed out in order.
//
// Bad pictures are skipped and counted: a batch holds the samples of its slice that loaded (it
// may be smaller than batch_size; with one rank a batch where nothing loaded is not returned,
// with several it is, empty, so that the ranks step together), and the epoch's DataReport
// gathers the skipped ones in batch order. An epoch where nothing loads is an error.
//
// Usage (the training loop):
//   LoaderOptions options;
//   options.batch_size = 64;
//   options.seed = 1;
//   DataLoader loader(train, options, checkpoint.position);
//   while (training) {
//     while (std::optional<Batch> batch = loader.next()) {
//       step(batch->images, batch->targets);          // [N,3,S,S] f32, [N,C] f32 or [N] i64
//       checkpoint.position = loader.position();      // where a resumed run starts
//     }
//     fputs(loader.last_epoch_report().summary("epoch").c_str(), stderr);
//   }
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nn/tensor.h"
#include "data/data_report.h"
#include "data/dataset.h"

namespace i2v {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;
  // A dump in tar shards: the shards in a random order, each read front to back through a buffer
  // of this many samples drawn at random (WebDataset's shuffle).
  int64_t shuffle_buffer = 1000;
  bool drop_last = false;  // leave out the last batch of an epoch when it would be short
  int workers = 2;         // threads decoding batches; 0: the calling thread decodes in next()
  int prefetch = 4;        // batches built ahead of the consumer
  int rank = 0;            // this process's slice of each global batch (a distributed run)
  int ranks = 1;           // the processes that share every global batch
};

// A point in the stream of batches: `sample` samples of epoch `epoch`'s permutation were handed
// out (by every rank together). sample == the dataset's size means "at the end of epoch `epoch`"
// (next() then returns nullopt, then epoch + 1 starts).
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t sample = 0;
  bool operator==(const LoaderPosition& other) const { return epoch == other.epoch && sample == other.sample; }
};

struct Batch {
  Tensor images;   // [N, 3, S, S] f32 on the cpu
  Tensor targets;  // [N, C] f32 of 0/1 (multi-label) or [N] i64 (class index)
  std::map<std::string, Tensor> auxiliary;  // [N, D] f32 on the cpu, by name (DatasetOptions::auxiliary)
  std::vector<int64_t> indices;    // dataset sample indices
  std::vector<int64_t> ids;        // post ids (image folders: position in the file list)
  std::vector<std::string> paths;  // picture files
  int64_t epoch = 0;
  int64_t batch = 0;         // the global batch's index in its epoch
  int64_t global_size = 0;   // the samples of the global batch (every rank's slice together)
  DataReport report;  // the samples of this batch that were skipped
  int64_t size() const { return int64_t(indices.size()); }
  // The auxiliary inputs on `device`, for Model::forward.
  std::map<std::string, Tensor> auxiliary_on(Device device) const;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, LoaderPosition start = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch of the current epoch; nullopt when the epoch is over (the call after that
  // starts the next epoch). Throws when a whole epoch had nothing readable, and rethrows what a
  // worker hit other than bad input.
  std::optional<Batch> next();
  LoaderPosition position() const;
  // Global batches in a whole epoch (the epoch resumed from may have fewer left).
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t global_batch_size() const { return options_.batch_size * options_.ranks; }
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

  // What the current epoch skipped so far / what the last finished epoch read and skipped.
  const DataReport& epoch_report() const { return epoch_report_; }
  const DataReport& last_epoch_report() const { return last_epoch_report_; }

  // The samples of epoch `epoch`, in visiting order.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  static uint64_t augment_seed(uint64_t seed, int64_t epoch, int64_t index);

 private:
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };
  // The j-th global batch handed out since the start position: permutation[begin, end) of
  // `epoch`, the `batch`-th of the epoch.
  struct Job {
    int64_t epoch, batch, begin, end;
    bool last_in_epoch;
  };
  Job job(int64_t j) const;
  int64_t batches_in(int64_t samples) const;  // global batches that cover `samples` samples
  Batch build(int64_t j) const;
  std::shared_ptr<const std::vector<int64_t>> order_of(int64_t epoch) const;
  Batch take();
  void work();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  LoaderPosition start_;
  int64_t batches_per_epoch_ = 0;
  int64_t start_epoch_batches_ = 0;  // the batches left in the start position's epoch
  int64_t consumed_ = 0;  // jobs handed out since the start position
  bool epoch_end_pending_ = false;
  DataReport epoch_report_;
  DataReport last_epoch_report_;

  mutable std::mutex order_mutex_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> orders_;

  std::mutex mutex_;
  std::condition_variable room_;   // workers wait for space in the queue
  std::condition_variable ready_;  // next() waits for its batch
  int64_t issued_ = 0;             // the next job a worker takes
  int64_t window_end_ = 0;         // jobs below it may be built (consumed_ + prefetch)
  bool stop_ = false;
  std::map<int64_t, Result> results_;
  std::vector<std::thread> workers_;
};

}  // namespace i2v
