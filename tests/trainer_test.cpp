// The training loop on a tiny image-folder dataset made at test time: it learns, it is
// deterministic, a resumed run ends with the same bits as an uninterrupted one, non-finite
// losses stop (or skip) with the step named, frozen layers stay put; in bf16 mixed precision on
// every device it learns what fp32 learns, and resumes to the same bits.
#include <csignal>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/safetensors.h"
#include "tests/data_fixture.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "base/atomic_file.h"
#include "train/checkpoint.h"
#include "data/image.h"
#include "train/stop_signal.h"
#include "train/training_config.h"

namespace i2v {
namespace {

using nlohmann::json;

class TrainerTest : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    test::write_colour_classes(path("pictures"));
    const json model = test::colour_network({{{"name", "gap"}, {"type", "global_avg_pool"}},
                                             {{"name", "drop"}, {"type", "dropout"}, {"p", 0.2}},
                                             {{"name", "fc"}, {"type", "linear"}, {"out_features", "outputs"}}});
    write_file_atomically(path("tiny.json"), model.dump());
  }

  json config(const std::string& run) const {
    return {{"run", path(run)},
            {"seed", 3},
            {"model", {{"config", path("tiny.json")}}},
            {"data", test::colour_data(path("pictures"), 4, 2)},
            {"optimizer", {{"momentum", 0.9}, {"weight_decay", 1e-4}}},
            {"schedule", {{"lr", 0.05}, {"type", "plateau"}, {"patience", 1}}},
            {"epochs", 3},
            {"log_every_steps", 2},
            {"checkpoint_every_steps", 4}};
  }

  static TrainResult train(const json& config, bool resume = false) {
    TrainingSetup setup = prepare_training(config);
    auto train_set = setup.train;
    auto validation_set = setup.validation;
    const LoaderOptions loader = setup.loader;
    Trainer trainer(
        *setup.model, *setup.loss, *setup.sgd, *setup.schedule,
        [=](LoaderPosition start) { return std::make_unique<DataLoader>(train_set, loader, start); },
        [=]() -> std::unique_ptr<DataLoader> {
          LoaderOptions options = loader;
          options.shuffle = false;
          return std::make_unique<DataLoader>(validation_set, options);
        },
        setup.trainer);
    return trainer.run(resume);
  }

  // (step, mean loss) of each train line of a run's metrics.jsonl.
  std::vector<std::pair<int64_t, double>> train_lines(const std::string& run) const {
    std::vector<std::pair<int64_t, double>> lines;
    std::istringstream log(read_file(path(run + "/metrics.jsonl")));
    for (std::string line; std::getline(log, line);) {
      const json entry = json::parse(line);
      if (entry.at("kind") == "train") lines.emplace_back(entry.at("step").get<int64_t>(), entry.at("loss").get<double>());
    }
    return lines;
  }

  // (step, loss, top-1) of each validation line of a run's metrics.jsonl.
  std::vector<std::array<double, 3>> validation_lines(const std::string& run) const {
    std::vector<std::array<double, 3>> lines;
    std::istringstream log(read_file(path(run + "/metrics.jsonl")));
    for (std::string line; std::getline(log, line);) {
      const json entry = json::parse(line);
      if (entry.at("kind") == "validation")
        lines.push_back({entry.at("step").get<double>(), entry.at("loss").get<double>(),
                         entry.at("top-1").get<double>()});
    }
    return lines;
  }

  std::map<std::string, std::vector<float>> final_weights(const std::string& run) const {
    std::map<std::string, std::vector<float>> weights;
    for (const auto& [name, t] : load_safetensors(path(run + "/final.safetensors")).tensors)
      if (t.dtype() == DType::f32) weights[name] = t.to_vector<float>();
    return weights;
  }
};

TEST_F(TrainerTest, LearnsATinyDataset) {
  json c = config("run");
  c["epochs"] = 25;
  const TrainResult result = train(c);
  // Three well-separated colour classes: chance is a loss of ln 3 = 1.10 and 1/3 accuracy; a
  // network that learned them is far from both.
  EXPECT_LT(result.last_train_loss, 0.3);
  EXPECT_GE(result.best_score, 0.99) << "validation top-1";
  EXPECT_TRUE(std::filesystem::exists(path("run/best.safetensors")));
  EXPECT_NE(read_file(path("run/metrics.jsonl")).find("\"kind\":\"validation\""), std::string::npos);
  const Safetensors best = load_safetensors(path("run/best.safetensors"));
  EXPECT_NE(best.metadata.at("i2v.model_config").find("\"tiny\""), std::string::npos);
  EXPECT_NE(best.metadata.at("i2v.outputs").find("\"green\""), std::string::npos);
}

TEST_F(TrainerTest, SameSeedSameBits) {
  train(config("a"));
  train(config("b"));
  EXPECT_EQ(final_weights("a"), final_weights("b"));
}

TEST_F(TrainerTest, ResumedRunEndsWithTheSameBits) {
  train(config("whole"));
  json first = config("split");
  first["max_steps"] = 7;  // stops mid-epoch, after a checkpoint at step 4
  EXPECT_EQ(train(first).steps, 7);
  EXPECT_TRUE(std::filesystem::exists(path("split/best.safetensors"))) << "validated at the last step";
  EXPECT_NE(read_file(path("split/metrics.jsonl")).find("\"kind\":\"validation\",\"loss\""), std::string::npos);
  const TrainResult resumed = train(config("split"), /*resume=*/true);
  EXPECT_EQ(resumed.epochs_completed, 3);
  EXPECT_EQ(final_weights("split"), final_weights("whole"));
  // A train line every 2 steps with the same mean losses, though the first run stopped at 7.
  EXPECT_EQ(train_lines("split"), train_lines("whole"));
}

TEST_F(TrainerTest, SignalSavesACheckpointAndResumeContinuesExactly) {
  json c = config("interrupted");
  c["epochs"] = 40;  // long enough for the stop to land mid-run
  json whole = c;
  whole["run"] = path("whole");
  train(whole);
  StopSignal::clear();
  // Ask to stop as soon as the first checkpoint exists, from another thread, like a Ctrl-C.
  std::thread stopper([&] {
    while (!std::filesystem::exists(path("interrupted/checkpoints")) ||
           std::filesystem::is_empty(path("interrupted/checkpoints")))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    StopSignal::request(SIGINT);
  });
  const TrainResult stopped = train(c);
  stopper.join();
  StopSignal::clear();
  ASSERT_TRUE(stopped.interrupted);
  EXPECT_FALSE(std::filesystem::exists(path("interrupted/final.safetensors")));
  const TrainResult resumed = train(c, /*resume=*/true);
  EXPECT_FALSE(resumed.interrupted);
  EXPECT_EQ(resumed.steps, 40 * 6);
  EXPECT_EQ(final_weights("interrupted"), final_weights("whole"));
  EXPECT_EQ(train_lines("interrupted"), train_lines("whole"));
}

TEST_F(TrainerTest, NonFiniteLossStopsNamingTheStep) {
  json c = config("nan");
  c["schedule"]["lr"] = 1e12;
  try {
    train(c);
    FAIL() << "a diverging run must stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("on_nonfinite"), std::string::npos) << e.what();
  }
  c["run"] = path("nan-skip");
  c["on_nonfinite"] = "skip";
  EXPECT_GT(train(c).skipped_batches, 0);
}

TEST_F(TrainerTest, FrozenLayerDoesNotMove) {
  json c = config("frozen");
  c["optimizer"]["layers"] = {{{"layers", {"conv1"}}, {"lr_mult", 0}}};
  const TrainingSetup setup = prepare_training(c);
  const std::vector<float> before = setup.model->state_dict().at("conv1.weight").to_vector<float>();
  train(c);
  EXPECT_EQ(final_weights("frozen").at("conv1.weight"), before);
  EXPECT_NE(final_weights("frozen").at("conv2.weight"), setup.model->state_dict().at("conv2.weight").to_vector<float>());
}

TEST_F(TrainerTest, RefusesToMixWithAnEarlierRun) {
  train(config("run"));
  EXPECT_THROW(train(config("run")), Error);
}

TEST_F(TrainerTest, AMisspeltFieldIsRefusedNamingTheNearestKnownOne) {
  auto refused = [](const json& c) -> std::string {
    try {
      prepare_training(c);
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  };
  json c = config("run");
  c["epoch"] = 5;
  EXPECT_NE(refused(c).find("config field epoch: unknown — did you mean \"epochs\"?"), std::string::npos) << refused(c);
  c = config("run");
  c["data"]["batchsize"] = 5;
  EXPECT_NE(refused(c).find("data.batchsize: unknown — did you mean \"batch_size\"?"), std::string::npos);
  c = config("run");
  c["schedule"]["step_epochs"] = 5;  // a plateau schedule has none
  EXPECT_NE(refused(c).find("schedule.step_epochs: unknown"), std::string::npos) << refused(c);
  c = config("run");
  c["optimizer"]["layers"] = {{{"pattern", ".*"}, {"lr_mul", 2}}};
  EXPECT_NE(refused(c).find("did you mean \"lr_mult\""), std::string::npos) << refused(c);
  c = config("run");
  c["_note"] = "fields starting with _ are comments";
  c["about"] = "so is about";
  EXPECT_EQ(refused(c), "accepted");
}

TEST_F(TrainerTest, ResumeRefusesAConfigThatChangesWhatTheCheckpointDependsOn) {
  json c = config("run");
  c["max_steps"] = 3;
  TrainingSetup first = prepare_training(c);
  run_training(first, false);
  json changed = config("run");
  changed["optimizer"]["momentum"] = 0.5;
  changed["schedule"]["lr"] = 0.5;
  TrainingSetup second = prepare_training(changed);
  try {
    run_training(second, true);
    ADD_FAILURE() << "a changed optimizer resumed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.momentum: 0.9 -> 0.5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("schedule.lr: 0.05 -> 0.5"), std::string::npos) << e.what();
  }
  json longer = config("run");
  longer["epochs"] = 4;  // how long it runs may change, and the batch (positions count samples)
  longer["data"]["batch_size"] = 2;
  TrainingSetup third = prepare_training(longer);
  EXPECT_EQ(run_training(third, true).epochs_completed, 4);
}

// bf16 mixed precision (kernels/precision.h) on each device: the run is not the fp32 run (the
// products really are rounded), yet it learns the same — at every validation the score is within
// 0.02 and the loss within 10% (relative, plus 0.02) of the fp32 run's at the same step — its
// checkpoints hold fp32 weights, and a resumed bf16 run ends with the same bits as an
// uninterrupted one.
class TrainerPrecisionTest : public TrainerTest, public testing::WithParamInterface<Device> {
 protected:
  json config_on_device(const std::string& run, const std::string& precision) const {
    json c = config(run);
    c["device"] = GetParam().name();
    c["precision"] = precision;
    c["epochs"] = 12;
    return c;
  }
};

TEST_P(TrainerPrecisionTest, Bf16LearnsWhatFp32Learns) {
  train(config_on_device("fp32", "fp32"));
  train(config_on_device("bf16", "bf16"));
  EXPECT_TRUE(final_weights("fp32") != final_weights("bf16")) << "bf16 rounds the products' operands";
  const auto fp32 = validation_lines("fp32"), bf16 = validation_lines("bf16");
  ASSERT_EQ(fp32.size(), bf16.size());
  ASSERT_FALSE(fp32.empty());
  for (size_t i = 0; i < fp32.size(); ++i) {
    SCOPED_TRACE(fmt::format("validation at step {}", fp32[i][0]));
    EXPECT_EQ(fp32[i][0], bf16[i][0]);
    EXPECT_NEAR(bf16[i][1], fp32[i][1], 0.1 * fp32[i][1] + 0.02) << "loss";
    EXPECT_NEAR(bf16[i][2], fp32[i][2], 0.02) << "top-1";
  }
  EXPECT_GE(bf16.back()[2], 0.99) << "the bf16 run learned the colours";
  // The weights saved are the fp32 master weights: the same fp32 tensors as the fp32 run's.
  std::vector<std::string> fp32_names, bf16_names;
  for (const auto& [name, t] : final_weights("fp32")) fp32_names.push_back(name);
  for (const auto& [name, t] : final_weights("bf16")) bf16_names.push_back(name);
  EXPECT_EQ(bf16_names, fp32_names);
  EXPECT_EQ(bf16_names.size(), 6u) << "conv1, conv2, fc: weight and bias";
}

TEST_P(TrainerPrecisionTest, ResumedBf16RunEndsWithTheSameBits) {
  train(config_on_device("whole", "bf16"));
  json first = config_on_device("split", "bf16");
  first["max_steps"] = 7;  // stops mid-epoch, after a checkpoint at step 4
  EXPECT_EQ(train(first).steps, 7);
  train(config_on_device("split", "bf16"), /*resume=*/true);
  EXPECT_EQ(final_weights("split"), final_weights("whole"));
  EXPECT_EQ(train_lines("split"), train_lines("whole"));
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainerPrecisionTest, testing::ValuesIn(test::all_devices()), test::device_name);

TEST(TrainingConfig, ShippedTrainingConfigsUseOnlyKnownFields) {
  // The configs in configs/ that train (they have a "run"), checked without their data.
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(I2V_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    const json config = json::parse(read_file(entry.path().string()));
    if (!config.contains("run")) continue;
    ++checked;
    try {
      LrSchedule::from_json(config.value("schedule", json::object()));
      prepare_training(config);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find("unknown"), std::string::npos) << entry.path() << ": " << e.what();
    }
  }
  EXPECT_GE(checked, 5);
}

TEST(TrainingConfig, OverridesByDottedPath) {
  json c = {{"schedule", {{"lr", 0.1}}}};
  apply_override(c, "schedule.lr=0.05");
  apply_override(c, "data.batch_size=16");
  apply_override(c, "model.name=vgg11-fc");
  EXPECT_EQ(c["schedule"]["lr"], 0.05);
  EXPECT_EQ(c["data"]["batch_size"], 16);
  EXPECT_EQ(c["model"]["name"], "vgg11-fc");
  EXPECT_THROW(apply_override(c, "no-equals"), Error);
}

}  // namespace
}  // namespace i2v
