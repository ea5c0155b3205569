// `i2v train`: trains a model as a JSON config says (train/training_config.h, docs/training.md).
#include <cstdio>
#include <filesystem>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/trace_option.h"
#include "base/error.h"
#include "base/file.h"
#include "base/progress.h"
#include "train/process_group.h"
#include "train/training_config.h"
#include "train/training_config_fields.h"

namespace i2v::app {
namespace {

struct TrainOptions {
  std::string config;
  std::string run;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string trace;
  SkipReportOption report;
};

// What is about to be trained, on stderr.
void describe_training(const TrainingSetup& setup) {
  const Model& model = *setup.model;
  const std::vector<LayerSummary> rows = model.summary(1);
  int64_t flops = 0;
  for (const LayerSummary& row : rows) flops += row.flops;
  std::fprintf(stderr, "model %s: %s parameters, %.3g GFLOP per image forward, input %s\n", model.name().c_str(),
               format_count(model.parameter_count()).c_str(), double(flops) / 1e9, shape_str(model.input_shape()).c_str());
  std::fprintf(stderr, "data: %s train, %s validation pictures, %s outputs; %s\n",
               format_count(setup.train->size()).c_str(),
               format_count(setup.validation ? setup.validation->size() : 0).c_str(),
               format_count(setup.train->num_classes()).c_str(), setup.train->preprocess().describe().c_str());
  std::fprintf(stderr, "training: %s, batch %lld, %s on %s%s, run directory %s\n", setup.loss->describe().c_str(),
               static_cast<long long>(setup.loader.batch_size), setup.schedule->describe().c_str(),
               setup.trainer.device.name().c_str(),
               // The CPU has no tf32: it computes in fp32 unless told bf16.
               setup.trainer.device.is_cpu() && setup.trainer.precision != Precision::bf16
                   ? ""
                   : (std::string(" in ") + precision_name(setup.trainer.precision)).c_str(),
               setup.trainer.run_directory.c_str());
  const ProcessGroup& group = ProcessGroup::world();
  if (group.distributed())
    std::fprintf(stderr, "distributed: %d ranks (MPI), global batch %lld (%lld per rank), %s gradient sums\n",
                 group.size(), static_cast<long long>(setup.loader.batch_size * group.size()),
                 static_cast<long long>(setup.loader.batch_size),
                 setup.trainer.reducer.deterministic ? "deterministic" : "MPI's");
}

void run_train(const TrainOptions& o) {
  nlohmann::json config;
  if (o.config.empty()) {  // continuing a run with the config it was started with
    I2V_CHECK(o.resume && !o.run.empty(), "give --config FILE, or --run DIR --resume to continue a run with its own "
              "config.json");
    config = read_run_config(o.run);
  } else {
    try {
      config = nlohmann::json::parse(read_file(o.config));
    } catch (const nlohmann::json::exception& e) {
      I2V_THROW("{}: not a JSON training config: {}", o.config, e.what());
    }
  }
  // A run's config.json (i2v train wrote it: it has "model_config") names files relative to its
  // own folder, and is read whole before training rewrites it; a config you write names them
  // from the current directory.
  const bool written_by_train = config.is_object() && config.contains("model_config") && !o.config.empty();
  if (written_by_train) config = config_paths_resolved_from(config, std::filesystem::path(o.config).parent_path().string());
  if (!o.run.empty()) config["run"] = o.run;
  for (const std::string& assignment : o.overrides) apply_override(config, assignment);
  read_training_fields(config);  // a wrong field is refused before the run directory is made
  CommandFiles files;
  files.input("--config", written_by_train ? "" : o.config);
  add_config_inputs(files, config);
  if (config.contains("run") && config["run"].is_string())
    add_run_outputs(files, "the run directory", config["run"].get<std::string>());
  files.output("--report", o.report.path);
  files.check();
  start_trace(o.trace);

  TrainingSetup setup = prepare_training(config);
  const ProcessGroup& group = ProcessGroup::world();
  if (group.writes()) describe_training(setup);  // rank 0 speaks for a distributed run
  const TrainResult result = run_training(setup, o.resume);
  if (group.writes()) {
    std::printf("%s after %lld steps (%lld epochs)", result.interrupted ? "interrupted" : "trained",
                static_cast<long long>(result.steps), static_cast<long long>(result.epochs_completed));
    if (result.best_step >= 0)
      std::printf("; best validation score %.4f at step %lld: %s/best.safetensors", result.best_score,
                  static_cast<long long>(result.best_step), setup.trainer.run_directory.c_str());
    if (result.skipped_batches > 0)
      std::printf("; %lld non-finite batches skipped", static_cast<long long>(result.skipped_batches));
    std::printf("\n");
  }
  if (result.interrupted)  // the checkpoint is saved; the exit status says the run did not finish
    throw Interrupted(result.stop_signal, fmt::format("interrupted by signal {}: checkpoint saved at step {}; continue "
                                                      "with --resume", result.stop_signal, result.steps));
}

void add_train_command(CLI::App& app) {
  static TrainOptions o;
  CLI::App* cmd = app.add_subcommand("train", "Train a model as a JSON config says (data, model, optimizer, schedule)");
  cmd->add_option("--config", o.config,
                  "The training config (see docs/training.md and configs/); with --run DIR --resume, default: the "
                  "run's own config.json");
  cmd->add_option("--run", o.run, "Run directory for checkpoints, logs and weights (overrides the config's \"run\")");
  cmd->add_option("--set", o.overrides, "Override a config field by its dotted path, e.g. --set schedule.lr=0.05")
      ->take_all();
  cmd->add_flag("--resume", o.resume, "Continue from the newest readable checkpoint in the run directory");
  o.report.add(cmd);
  add_trace_option(cmd, o.trace);
  cmd->footer(
      "Writes into the run directory: config.json (the resolved config), metrics.jsonl (one JSON line per\n"
      "logged step and validation), checkpoints/ (the last few), best.safetensors and final.safetensors\n"
      "(weights with the model config, preprocessing and output names in their metadata).\n"
      "Ctrl-C (or SIGTERM) saves a checkpoint and stops with exit status 130 (143); --resume continues\n"
      "exactly where it stopped.\n\n"
      "Examples:\n"
      "  i2v train --config configs/emoji-i2v-tag.json\n"
      "  i2v train --config configs/emoji-i2v-tag.json --set epochs=2 --set data.batch_size=16 --run runs/try\n"
      "  i2v train --config configs/emoji-i2v-tag.json --resume\n"
      "  i2v train --run demo-out/runs/i2v-tag --resume --set epochs=20\n"
      "  mpirun -np 2 i2v train --config configs/emoji-i2v-tag.json   (data parallel: docs/training.md)");
  cmd->callback([] { o.report.run("i2v train --config " + o.config, [] { run_train(o); }); });
}

const bool registered = register_command("train", add_train_command);

}  // namespace
}  // namespace i2v::app
