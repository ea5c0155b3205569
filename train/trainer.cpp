#include "train/trainer.h"

#include <cmath>
#include <csignal>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "kernels/norm.h"
#include "kernels/trace.h"
#include "nn/safetensors.h"
#include "base/atomic_file.h"
#include "train/checkpoint.h"
#include "train/stop_signal.h"

namespace i2v {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors) out[prefix + name] = t;
  return out;
}

std::map<std::string, Tensor> strip_prefix(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

}  // namespace

Trainer::Trainer(Model& model, Loss& loss, Sgd& sgd, LrSchedule& schedule,
                 std::function<std::unique_ptr<DataLoader>(LoaderPosition)> make_train_loader,
                 std::function<std::unique_ptr<DataLoader>()> make_validation_loader, TrainerOptions options)
    : model_(model), loss_(loss), sgd_(sgd), schedule_(schedule), make_train_loader_(std::move(make_train_loader)),
      make_validation_loader_(std::move(make_validation_loader)), options_(std::move(options)),
      group_(ProcessGroup::world()) {
  I2V_CHECK(!options_.run_directory.empty(), "training needs a run directory for checkpoints and logs");
  I2V_CHECK(options_.epochs > 0 || options_.max_steps > 0, "training needs epochs or max_steps");
  if (group_.distributed()) reducer_ = std::make_unique<GradientReducer>(model_, group_, options_.reducer);
  if (group_.distributed() && options_.sync_batch_norm) {
    batch_norm_sync_ = std::make_unique<RankBatchNormSync>(group_);
    batch_norm_sync_->attach(model_);
  }
}

bool Trainer::finished() const {
  return (options_.max_steps > 0 && step_ >= options_.max_steps) || (options_.epochs > 0 && epoch_ >= options_.epochs);
}

LoaderPosition Trainer::resume_or_start(bool resume) {
  const CheckpointDirectory directory(options_.run_directory + "/checkpoints", options_.keep_checkpoints);
  if (!resume) {
    I2V_CHECK(directory.list().empty() || !group_.writes(),
              "{} already holds checkpoints of an earlier run: resume it (i2v train and i2v transfer: "
              "--resume), or train into another run directory", directory.directory());
    return {};
  }
  std::optional<LatestCheckpoint> latest = directory.load_latest();
  for (const std::string& line : latest && group_.writes() ? latest->skipped : std::vector<std::string>{})
    std::fprintf(stderr, "warning: %s\n", line.c_str());
  if (!latest) {
    if (group_.writes()) std::fprintf(stderr, "no checkpoint in %s: starting a new run\n", directory.directory().c_str());
    return {};
  }
  const nlohmann::json& state = latest->checkpoint.state;
  try {
    model_.load_state_dict(strip_prefix(latest->checkpoint.tensors, "model."));
    sgd_.load_state(strip_prefix(latest->checkpoint.tensors, "optimizer."), state.at("optimizer_steps").get<int64_t>());
    schedule_.load_state(state.at("schedule"));
    model_.set_random_states(state.at("rng").get<std::map<std::string, std::vector<uint64_t>>>());
    step_ = state.at("step").get<int64_t>();
    epoch_ = state.at("epoch").get<int64_t>();
    result_.best_score = state.at("best_score").get<double>();
    result_.best_step = state.at("best_step").get<int64_t>();
    result_.skipped_batches = state.at("skipped_batches").get<int64_t>();
    validated_step_ = state.value("validated_step", int64_t(-1));
    // The steps since the last log line, so that the next line comes where it would have.
    const nlohmann::json unlogged = state.value("unlogged", nlohmann::json::object());
    logged_steps_ = unlogged.value("steps", int64_t(0));
    logged_loss_ = unlogged.value("loss", 0.0);
    logged_images_ = unlogged.value("images", int64_t(0));
    clipped_since_log_ = unlogged.value("clipped_steps", int64_t(0));
    const nlohmann::json& data = state.at("data");
    // Checkpoints before distributed training counted batches of one process.
    const int64_t sample = data.contains("sample") ? data.at("sample").get<int64_t>()
                                                   : data.at("batch").get<int64_t>() *
                                                         state.at("config").at("data").value("batch_size", int64_t(32));
    const LoaderPosition position{data.at("epoch").get<int64_t>(), sample};
    if (group_.writes())
      std::fprintf(stderr, "resuming from %s: step %lld, epoch %lld, sample %lld\n", latest->path.c_str(),
                   static_cast<long long>(step_), static_cast<long long>(position.epoch),
                   static_cast<long long>(position.sample));
    return position;
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: not a training checkpoint of this version ({})", latest->path, e.what());
  }
}

TrainResult Trainer::run(bool resume) {
  StopSignal signals;
  // What a killed run was writing (the checkpoints' own are removed by their directory).
  if (group_.writes())
    remove_abandoned_temporaries(options_.run_directory, [](const std::string& target) {
      return target == "config.json" || target == "metrics.jsonl" || target == "best.json" ||
             target == "best.safetensors" || target == "final.safetensors";
    });
  set_matmul_precision(options_.precision);  // for every step and validation of this run
  const LoaderPosition start = resume_or_start(resume);
  // Every rank has read the checkpoint before rank 0 may write (and rotate) the next one.
  group_.barrier("the start of training");
  if (group_.writes()) keep_log_through(step_);
  train_ = make_train_loader_(start);
  images_in_epoch_ = start.sample;
  logged_at_ = std::chrono::steady_clock::now();
  logged_waiting_ = group_.seconds_waiting();
  while (!finished()) {
    if (stop_requested()) {
      if (progress_) progress_->finish("interrupted");
      if (group_.writes())
        std::fprintf(stderr, "signal %d: saving a checkpoint at step %lld and stopping\n", StopSignal::signal_number(),
                     static_cast<long long>(step_));
      save_checkpoint(train_->position());
      result_.interrupted = true;
      result_.stop_signal = StopSignal::signal_number() != 0 ? StopSignal::signal_number() : SIGTERM;
      break;
    }
    if (!progress_ && group_.writes())
      progress_ = std::make_unique<Progress>(fmt::format("epoch {}/{}", epoch_ + 1, options_.epochs),
                                             train_->dataset().size(), "img");
    std::optional<Batch> batch = train_->next();
    if (!batch) {
      end_epoch();
      continue;
    }
    train_step(*batch);
    after_step();
  }
  if (!result_.interrupted) {
    if (progress_) progress_->finish();
    // max_steps ended the run between validations: score the final weights too, without
    // letting the score steer a schedule that will not run again (a resumed run stays exact).
    if (validated_step_ != step_) validate(/*update_schedule=*/false);
    save_checkpoint(train_->position());
    if (group_.writes()) {
      Safetensors weights{model_.state_dict(), options_.weights_metadata};
      weights.metadata["i2v.step"] = std::to_string(step_);
      save_safetensors(options_.run_directory + "/final.safetensors", weights);
    }
  }
  result_.steps = step_;
  result_.epochs_completed = epoch_;
  return result_;
}

bool Trainer::stop_requested() {
  if (!group_.distributed()) return StopSignal::requested();
  // The ranks may see a signal at different steps: they stop at the first step any of them saw it.
  std::vector<double> requested{StopSignal::requested() ? 1.0 : 0.0};
  group_.sum(requested, fmt::format("the stop check before step {}", step_ + 1));
  return requested[0] > 0;
}

double Trainer::learning_rate() const {
  const double lr = schedule_.lr(step_, epoch_);
  return options_.linear_lr_scaling ? lr * group_.size() : lr;
}

double Trainer::squared_gradient_norm() {
  // One sum per parameter on the device, then a single copy to the host.
  std::vector<Parameter*> trained;
  for (auto& [name, p] : model_.parameters())
    if (p->requires_grad) trained.push_back(p);
  if (trained.empty()) return 0.0;
  const Tensor& first = trained[0]->grad;
  Tensor sums = Tensor::empty({int64_t(trained.size())}, first.dtype(), first.device());
  for (size_t i = 0; i < trained.size(); ++i) {
    const Tensor& g = trained[i]->grad;
    I2V_DISPATCH_FLOATING(g.device(), g.dtype(), sum_of_squares, g.data<scalar_t>(), g.numel(),
                          sums.data<scalar_t>() + i);
  }
  double total = 0;
  for (double s : sums.cast(DType::f64).to_vector<double>()) total += s;
  return total;
}

// Synchronised batch norm exchanges statistics inside the forward pass, so every rank must run
// it: a global batch in which some rank's slice is empty (the end of an epoch shorter than the
// ranks' slices, or a slice of unreadable pictures) is skipped by every rank, with a warning.
bool Trainer::every_rank_has_samples(int64_t here, const Batch& batch) {
  std::vector<double> empty_slices{here == 0 ? 1.0 : 0.0};
  group_.sum(empty_slices, fmt::format("the sample check of step {}", step_ + 1));
  if (empty_slices[0] == 0) return true;
  if (group_.writes())
    std::fprintf(stderr, "\nwarning: epoch %lld, batch %lld: %.0f of %d ranks have no samples; with sync_batch_norm "
                 "the global batch is skipped\n", (long long)(epoch_ + 1), (long long)batch.batch, empty_slices[0],
                 group_.size());
  return false;
}

void Trainer::train_step(const Batch& batch) {
  const double lr = learning_rate();
  const Device device = options_.device;
  const trace::Span span(trace::Kind::layer, "train_step", device);
  model_.zero_grad();
  const int64_t here = batch.size();  // a rank's slice may be empty at the end of an epoch
  if (batch_norm_sync_ && !every_rank_has_samples(here, batch)) return;
  double loss = 0;
  if (here > 0) {
    const Tensor logits = model_.forward(batch.images.to(device), batch.auxiliary_on(device), Mode::train);
    loss = loss_.forward({logits, batch.targets.to(device)}).cast(DType::f64).item<double>({0});
  }
  // The global batch's loss, and this rank's share of it: a loss averaged over the samples is
  // the ranks' losses weighted by their sample counts; a sum is their sum.
  int64_t samples = here;
  double weight = 1.0;
  if (group_.distributed()) {
    const bool averaged = loss_.reduction() != Reduction::sum;
    std::vector<double> sums{double(here), averaged ? loss * double(here) : loss};
    group_.sum(sums, fmt::format("the loss of step {}", step_ + 1));
    samples = int64_t(sums[0]);
    if (samples == 0) return;  // nothing in this global batch was readable
    loss = averaged ? sums[1] / sums[0] : sums[1];
    weight = averaged ? double(here) / sums[0] : 1.0;
  }
  double gradient_norm = NAN;
  if (std::isfinite(loss)) {
    if (reducer_) {
      reducer_->begin_step(weight);
      if (batch_norm_sync_) batch_norm_sync_->begin_step(weight);
      if (here > 0)
        model_.backward(loss_.backward(), false, [&](const std::string& layer) { reducer_->layer_done(layer); });
      reducer_->finish(fmt::format("step {}", step_ + 1));
    } else {
      model_.backward(loss_.backward());
    }
    gradient_norm = std::sqrt(squared_gradient_norm());
  }
  loss_.clear_saved();
  images_in_epoch_ += samples;
  if (!std::isfinite(loss) || !std::isfinite(gradient_norm)) {
    const std::string what = fmt::format("step {} (epoch {}, batch {}): the {} is {} (learning rate {:g})", step_ + 1,
                                         epoch_ + 1, batch.batch, std::isfinite(loss) ? "gradient" : "loss",
                                         std::isfinite(loss) ? gradient_norm : loss, lr);
    I2V_CHECK(options_.skip_nonfinite, "{}; training stopped. Lower the learning rate or check the data; to skip such "
              "batches instead, set \"on_nonfinite\": \"skip\"", what);
    if (group_.writes()) std::fprintf(stderr, "\nwarning: %s; batch skipped\n", what.c_str());
    ++result_.skipped_batches;
    return;
  }
  const double clip_scale = sgd_.step(lr, gradient_norm);
  ++step_;
  clipped_since_log_ += clip_scale < 1.0;
  ++logged_steps_;
  logged_loss_ += loss;
  logged_images_ += samples;
  last_lr_ = lr;
  last_gradient_norm_ = gradient_norm;
  result_.last_train_loss = loss;
  if (progress_) progress_->update(images_in_epoch_, fmt::format("loss {:.4f}, lr {:.3g}", logged_loss_ / double(logged_steps_), lr));
}

void Trainer::after_step() {
  if (logged_steps_ > 0 && logged_steps_ >= options_.log_every_steps) {
    const double seconds = seconds_since(logged_at_);
    nlohmann::json line = {{"kind", "train"}, {"step", step_}, {"epoch", epoch_ + 1},
                           {"loss", logged_loss_ / double(logged_steps_)}, {"lr", last_lr_},
                           {"gradient_norm", last_gradient_norm_}, {"clipped_steps", clipped_since_log_},
                           {"images_per_second", seconds > 0 ? double(logged_images_) / seconds : 0.0}};
    if (group_.distributed())
      line["wait_share"] = seconds > 0 ? (group_.seconds_waiting() - logged_waiting_) / seconds : 0.0;
    log(line);
    logged_waiting_ = group_.seconds_waiting();
    logged_steps_ = 0;
    clipped_since_log_ = 0;
    logged_loss_ = 0;
    logged_images_ = 0;
    logged_at_ = std::chrono::steady_clock::now();
  }
  if (options_.validate_every_steps > 0 && step_ % options_.validate_every_steps == 0) validate();
  if (options_.checkpoint_every_steps > 0 && step_ % options_.checkpoint_every_steps == 0)
    save_checkpoint(train_->position());
}

void Trainer::end_epoch() {
  const DataReport& report = train_->last_epoch_report();
  if (progress_) progress_->finish(report.skipped() > 0 ? report.summary("skipped") : "");
  progress_.reset();
  ++epoch_;
  images_in_epoch_ = 0;
  if (options_.validate_every_steps == 0) validate();
  save_checkpoint(LoaderPosition{epoch_, 0});
}

void Trainer::validate(bool update_schedule) {
  if (!make_validation_loader_) return;
  // Rank 0 validates; the others get its loss and score, so that every rank's schedule and best
  // score move together.
  std::vector<double> scores{0, 0, 0};  // loss, score, samples
  Evaluation evaluation;
  if (group_.writes()) {
    std::unique_ptr<DataLoader> loader = make_validation_loader_();
    if (loader) {
      evaluation = evaluate(model_, loss_, *loader, options_.device);
      scores = {evaluation.loss, evaluation.headline(), double(evaluation.samples)};
    } else {
      scores[2] = -1;  // no validation split
    }
  }
  group_.broadcast(scores, fmt::format("the validation at step {}", step_));
  if (scores[2] < 0) return;
  validated_step_ = step_;
  const double loss = scores[0], score = scores[1];
  if (update_schedule) schedule_.on_validation(loss);
  const bool best = result_.best_step < 0 || score > result_.best_score;
  if (best) {
    result_.best_score = score;
    result_.best_step = step_;
  }
  if (!group_.writes()) return;
  log({{"kind", "validation"}, {"step", step_}, {"epoch", epoch_}, {"loss", loss},
       {evaluation.headline_name(), score}, {"samples", evaluation.samples}, {"best", best}});
  std::fprintf(stderr, "validation at step %lld: loss %.4f, %s %.4f%s\n", static_cast<long long>(step_), loss,
               evaluation.headline_name().c_str(), score, best ? " (best so far)" : "");
  if (!best) return;
  Safetensors weights{model_.state_dict(), options_.weights_metadata};
  weights.metadata["i2v.step"] = std::to_string(step_);
  weights.metadata["i2v." + evaluation.headline_name()] = std::to_string(score);
  save_safetensors(options_.run_directory + "/best.safetensors", weights);
  write_file_atomically(options_.run_directory + "/best.json",
                        nlohmann::json{{"step", step_}, {"epoch", epoch_}, {evaluation.headline_name(), score},
                                       {"loss", loss}}
                                .dump(2) + "\n");
}

void Trainer::save_checkpoint(LoaderPosition position) {
  if (!group_.writes()) return;
  Checkpoint checkpoint;
  checkpoint.tensors = with_prefix(model_.state_dict(), "model.");
  for (const auto& [name, t] : with_prefix(sgd_.state(), "optimizer.")) checkpoint.tensors[name] = t;
  checkpoint.state = {{"step", step_},
                      {"epoch", epoch_},
                      {"data", {{"epoch", position.epoch}, {"sample", position.sample}}},
                      {"ranks", group_.size()},
                      {"optimizer_steps", sgd_.steps_taken()},
                      {"schedule", schedule_.state()},
                      {"rng", model_.random_states()},
                      {"best_score", result_.best_score},
                      {"best_step", result_.best_step},
                      {"skipped_batches", result_.skipped_batches},
                      {"validated_step", validated_step_},
                      {"unlogged", {{"steps", logged_steps_}, {"loss", logged_loss_}, {"images", logged_images_},
                                    {"clipped_steps", clipped_since_log_}}},
                      {"config", options_.config}};
  CheckpointDirectory(options_.run_directory + "/checkpoints", options_.keep_checkpoints).save(step_, checkpoint);
}

void Trainer::log(const nlohmann::json& record) {
  if (!group_.writes()) return;
  std::ofstream out(options_.run_directory + "/metrics.jsonl", std::ios::app);
  out << record.dump() << "\n";
  I2V_CHECK(out.good(), "cannot append to {}/metrics.jsonl", options_.run_directory);
}

void Trainer::keep_log_through(int64_t step) {
  // A resumed run logs again what the interrupted one logged after its checkpoint.
  const std::string path = options_.run_directory + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).at("step").get<int64_t>() <= step) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A line cut short when the process was killed: dropped.
    }
  }
  write_file_atomically(path, kept);
}

}  // namespace i2v
