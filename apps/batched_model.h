// A trained model shared by many request threads (i2v serve): pictures that arrive together run
// as one forward pass. A GPU (and the CPU's GEMMs) is far better used by one batch of 16 than by
// 16 batches of one.
//
//   request threads ──submit(chw, layer)──▶ bounded queue ──▶ one worker thread:
//                                                              wait for a full batch or max_wait,
//                                                              forward, hand each its rows
//
// The worker alone touches the model (layers keep state between forward calls), so the model
// needs no lock. A full queue refuses at once (QueueFull: the server answers 503) instead of
// letting waits grow without bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "train/inference.h"

namespace i2v {

struct BatchingOptions {
  int64_t max_batch = 16;                  // pictures per forward pass at most
  std::chrono::microseconds max_wait{2000};  // after the first picture, how long to wait for more
  size_t queue_limit = 256;                // pictures waiting at most
};

// One picture's activations at a layer: its shape (without the batch dimension) and values.
struct Activation {
  Shape shape;
  std::vector<float> values;
};

// submit() when the queue already holds queue_limit pictures.
class QueueFull : public Error {
 public:
  using Error::Error;
};

class BatchedModel {
 public:
  BatchedModel(TrainedModel model, Device device, BatchingOptions options);
  // Finishes every picture already queued, then stops the worker.
  ~BatchedModel();
  BatchedModel(const BatchedModel&) = delete;
  BatchedModel& operator=(const BatchedModel&) = delete;

  const TrainedModel& trained() const { return model_; }
  const Preprocess& preprocess() const { return model_.preprocess; }

  // Queues one picture, prepared by preprocess() (3 × size × size floats), for the activations of
  // `layer` ("" = the output). Throws QueueFull when the queue is full. The future holds the
  // activations, or the forward pass's error.
  std::future<Activation> submit(std::vector<float> chw, const std::string& layer);

  struct Stats {
    int64_t pictures = 0, batches = 0, largest_batch = 0;
    size_t queued = 0;
  };
  Stats stats() const;

 private:
  struct Job {
    std::vector<float> chw;
    std::string layer;
    std::promise<Activation> result;
  };
  void work();
  void run_batch(std::vector<Job>& jobs);

  TrainedModel model_;
  Device device_;
  BatchingOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread worker_;
};

}  // namespace i2v
