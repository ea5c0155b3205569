// The training loop: epochs of batches, SGD steps, validation, checkpoints, logs.
//
// Every step: forward, loss, backward, a check that the loss and the gradients are finite,
// an SGD step at the schedule's rate. Along the way:
//   - progress on stderr (a bar with loss, images/s and ETA on a terminal; plain lines otherwise);
//   - one JSON line per logged step and per validation in <run>/metrics.jsonl;
//   - validation every `validate_every_steps` steps or at each epoch end, feeding the plateau
//     schedule and keeping the best weights in <run>/best.safetensors (+ best.json);
//   - checkpoints in <run>/checkpoints (weights, buffers, momentum, schedule, dropout and data
//     positions, step, epoch, best score), every `checkpoint_every_steps` steps and at each epoch
//     end, the last `keep_checkpoints` kept;
//   - SIGINT/SIGTERM: a checkpoint, then a clean return (TrainResult::interrupted);
//   - a NaN or infinity in the loss or the gradients stops training with an error naming the
//     step, or (skip_nonfinite) skips that batch and counts it.
// run(resume = true) continues from the newest readable checkpoint; on the cpu with a fixed
// seed, an interrupted and resumed run ends with the same bits as an uninterrupted one.
//
// Data parallel (several ranks: train/process_group.h): every rank runs this loop on its slice of
// each global batch; the losses and sample counts are summed over the ranks before the backward
// pass (so that every rank takes the same decision on a non-finite loss), the gradients are
// averaged while it runs (train/gradient_reducer.h), and every rank then takes the same SGD
// step. Rank 0 alone validates (the others get its score, for the schedule) and writes logs,
// checkpoints and weights; a stop signal on any rank stops every rank at the same step.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/loss.h"
#include "nn/model.h"
#include "data/data_loader.h"
#include "kernels/precision.h"
#include "train/evaluate.h"
#include "train/lr_schedule.h"
#include "base/progress.h"
#include "train/gradient_reducer.h"
#include "train/process_group.h"
#include "train/sgd.h"
#include "train/sync_batch_norm.h"

namespace i2v {

struct TrainerOptions {
  Device device = Device::cpu();
  Precision precision = Precision::tf32;  // of the GPU's matrix products (kernels/precision.h)
  int64_t epochs = 1;
  int64_t max_steps = 0;               // stop after this many steps in all (0: epochs decide)
  int64_t validate_every_steps = 0;    // 0: at each epoch end
  int64_t checkpoint_every_steps = 0;  // 0: at each epoch end only
  int keep_checkpoints = 3;
  int64_t log_every_steps = 10;
  bool skip_nonfinite = false;
  // With several ranks: how the gradients are summed, and whether the learning rate is the
  // schedule's times the number of ranks (the linear scaling rule; pair it with a warm-up).
  ReducerOptions reducer;
  bool linear_lr_scaling = false;
  // With several ranks: batch norm with the statistics of the global batch (train/sync_batch_norm.h).
  bool sync_batch_norm = false;
  std::string run_directory;           // where checkpoints, logs and the best weights go
  nlohmann::json config;               // saved in every checkpoint
  // Written into best.safetensors and final.safetensors, so that the weights alone say how to use
  // them (model config, preprocessing, output names).
  std::map<std::string, std::string> weights_metadata;
};

struct TrainResult {
  int64_t steps = 0;
  int64_t epochs_completed = 0;
  bool interrupted = false;
  int stop_signal = 0;                 // when interrupted: the signal (SIGINT, SIGTERM)
  int64_t skipped_batches = 0;         // non-finite batches skipped
  double best_score = 0;               // headline validation score (mAP or top-1)
  int64_t best_step = -1;
  double last_train_loss = 0;
};

class Trainer {
 public:
  // `make_train_loader` gives the training loader starting at a position (a resumed run starts
  // where its checkpoint left off); `make_validation_loader` a fresh loader over the validation
  // split (shuffle off); an empty function (or one that returns nullptr) when there is none.
  Trainer(Model& model, Loss& loss, Sgd& sgd, LrSchedule& schedule,
          std::function<std::unique_ptr<DataLoader>(LoaderPosition)> make_train_loader,
          std::function<std::unique_ptr<DataLoader>()> make_validation_loader, TrainerOptions options);

  TrainResult run(bool resume);

 private:
  bool finished() const;
  LoaderPosition resume_or_start(bool resume);
  void train_step(const Batch& batch);
  void after_step();
  void end_epoch();
  void validate(bool update_schedule = true);
  void save_checkpoint(LoaderPosition position);
  void log(const nlohmann::json& record);
  void keep_log_through(int64_t step);
  double squared_gradient_norm();
  bool every_rank_has_samples(int64_t here, const Batch& batch);
  bool stop_requested();
  double learning_rate() const;

  Model& model_;
  Loss& loss_;
  Sgd& sgd_;
  LrSchedule& schedule_;
  std::function<std::unique_ptr<DataLoader>(LoaderPosition)> make_train_loader_;
  std::function<std::unique_ptr<DataLoader>()> make_validation_loader_;
  std::unique_ptr<DataLoader> train_;
  TrainerOptions options_;
  ProcessGroup& group_;
  std::unique_ptr<GradientReducer> reducer_;  // with several ranks
  std::unique_ptr<RankBatchNormSync> batch_norm_sync_;  // with several ranks and sync_batch_norm

  int64_t step_ = 0;
  int64_t epoch_ = 0;
  int64_t images_in_epoch_ = 0;
  std::unique_ptr<Progress> progress_;
  // Since the last log line.
  int64_t logged_steps_ = 0;
  int64_t clipped_since_log_ = 0;
  int64_t validated_step_ = -1;  // the step of the last validation
  double logged_loss_ = 0;
  int64_t logged_images_ = 0;
  std::chrono::steady_clock::time_point logged_at_;
  double logged_waiting_ = 0;  // the group's seconds_waiting() then
  double last_lr_ = 0;
  double last_gradient_norm_ = 0;
  TrainResult result_;
};

}  // namespace i2v
