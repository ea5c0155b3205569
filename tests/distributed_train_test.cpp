// Data-parallel training with the real launcher: `mpirun -np 2 i2v train` on this machine's cores
// (train/process_group.h, train/gradient_reducer.h).
//   - two ranks with batch B each train the same model as one process with batch 2B (within the
//     float summation order: the gradients are summed in another order);
//   - with "sync_batch_norm", batch norm normalises over the global batch, and two ranks train
//     what one process trains with a model that has it (running statistics included);
//   - with "deterministic", a two-rank run is bit-identical to itself;
//   - a run saved by two ranks resumes on one (the position counts samples);
//   - a rank killed outright, one that hangs, or one that fails with an error stops the whole job
//     with a message naming it, instead of leaving the others waiting.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/file.h"
#include "nn/safetensors.h"
#include "tests/data_fixture.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

class DistributedTrainTest : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    // 24 training pictures, 6 for validation: 3 steps per epoch with a global batch of 8. No
    // dropout and no batch norm, whose per-rank randomness and statistics would make two ranks
    // differ from one process by more than summation order.
    test::write_colour_classes(path("pictures"));
    const json model = test::colour_network({{{"name", "flat"}, {"type", "flatten"}},
                                             {{"name", "fc1"}, {"type", "linear"}, {"out_features", 32}},
                                             {{"name", "relu3"}, {"type", "relu"}},
                                             {{"name", "fc"}, {"type", "linear"}, {"out_features", "outputs"}}});
    write_file_atomically(path("tiny.json"), model.dump());
    const json config = {{"run", "runs/unused"},
                         {"seed", 3},
                         {"model", {{"config", "tiny.json"}}},
                         {"data", test::colour_data("pictures", 4, 1)},
                         {"optimizer", {{"momentum", 0.9}, {"weight_decay", 1e-4}}},
                         {"schedule", {{"lr", 0.05}}},
                         // Small buckets: the 3 buckets start while the backward pass still runs.
                         {"distributed", {{"bucket_mb", 0.01}}},
                         {"epochs", 2},
                         {"log_every_steps", 1}};
    write_file_atomically(path("train.json"), config.dump(2));
  }

  // The command that trains into `run` on `ranks` processes (1: no launcher), output appended
  // to `run`.log.
  // (OpenMPI leaves its own allocations to the end of the process, which LeakSanitizer would
  // report in every rank of the sanitizer build: the ranks run without the leak check, a single
  // process keeps it.)
  std::string command(int ranks, const std::string& run, const std::string& more) const {
    const std::string launcher =
        ranks == 1 ? ""
                   : fmt::format("env ASAN_OPTIONS=detect_leaks=0:${{ASAN_OPTIONS}} '{}' -np {} --oversubscribe "
                                 "--allow-run-as-root --bind-to none -x OMP_NUM_THREADS ",
                                 I2V_MPIEXEC, ranks);
    return fmt::format("cd '{}' && OMP_NUM_THREADS=1 exec {}'{}' train --config train.json --run {} {} >>{}.log 2>&1",
                       dir_.string(), launcher, I2V_TOOL, run, more, run);
  }

  // Runs it to the end; its exit status.
  int train(int ranks, const std::string& run, const std::string& more = "") {
    return std::system(command(ranks, run, more).c_str());
  }

  std::string log(const std::string& run) const { return read_file(path(run + ".log")); }

  std::map<std::string, Tensor> weights(const std::string& file) const { return load_safetensors(path(file)).tensors; }

  // The largest difference between two runs' weights and float buffers, relative to the largest
  // (integer buffers, batch norm's num_batches_tracked, must be equal).
  double weight_difference(const std::string& a, const std::string& b) const {
    const std::map<std::string, Tensor> first = weights(a), second = weights(b);
    EXPECT_EQ(first.size(), second.size());
    double difference = 0, largest = 0;
    for (const auto& [name, tensor] : first) {
      if (tensor.dtype() == DType::i64) {
        EXPECT_EQ(tensor.to_vector<int64_t>(), second.at(name).to_vector<int64_t>()) << name;
        continue;
      }
      const std::vector<float> x = tensor.to_vector<float>(), y = second.at(name).to_vector<float>();
      EXPECT_EQ(x.size(), y.size()) << name;
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        difference = std::max(difference, double(std::fabs(x[i] - y[i])));
        largest = std::max(largest, double(std::fabs(x[i])));
      }
    }
    return difference / largest;
  }

  // The loss of each train line of a run's metrics.jsonl.
  std::vector<double> losses(const std::string& run) const {
    std::vector<double> out;
    std::istringstream lines(read_file(path(run + "/metrics.jsonl")));
    for (std::string line; std::getline(lines, line);) {
      const json record = json::parse(line);
      if (record.at("kind") == "train") out.push_back(record.at("loss").get<double>());
    }
    return out;
  }
};

TEST_F(DistributedTrainTest, TwoRanksTrainWhatOneProcessTrainsWithTheDoubledBatch) {
  ASSERT_EQ(train(1, "one", "--set data.batch_size=8"), 0) << log("one");
  ASSERT_EQ(train(2, "two"), 0) << log("two");
  EXPECT_NE(log("two").find("distributed: 2 ranks (MPI), global batch 8 (4 per rank)"), std::string::npos)
      << log("two");
  // Rank 0 alone wrote the log: one line per step, as the single process did.
  const std::vector<double> one = losses("one"), two = losses("two");
  ASSERT_EQ(one.size(), 6u);
  ASSERT_EQ(two.size(), one.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(two[i], one[i], 1e-4 * std::fabs(one[i])) << "step " << i + 1;
  const double difference = weight_difference("one/final.safetensors", "two/final.safetensors");
  std::printf("two ranks against one process: weights differ by %.3g of the largest\n", difference);
  EXPECT_LT(difference, 1e-4);
  EXPECT_TRUE(fs::exists(path("two/best.safetensors")));
}

// A GPU-like device's gradients go through host memory for MPI (a build without NCCL): the sim
// device runs that path.
TEST_F(DistributedTrainTest, TwoRanksOnTheSimDeviceTrainWhatOneProcessTrains) {
  const std::string sim = "--set device=sim precision=fp32 max_steps=2";
  ASSERT_EQ(train(1, "one", sim + " data.batch_size=8"), 0) << log("one");
  // Traced: each rank writes a trace of its own (rank 1 into trace.jsonl.rank1), with its two steps.
  ASSERT_EQ(train(2, "two", sim + " --trace trace.jsonl"), 0) << log("two");
  EXPECT_LT(weight_difference("one/final.safetensors", "two/final.safetensors"), 1e-4);
  for (const char* trace : {"trace.jsonl", "trace.jsonl.rank1"}) {
    const std::string lines = read_file(path(trace));
    size_t steps = 0;
    for (size_t at = lines.find("\"name\":\"train_step\""); at != std::string::npos;
         at = lines.find("\"name\":\"train_step\"", at + 1))
      ++steps;
    EXPECT_EQ(steps, 2u) << trace;
    EXPECT_NE(lines.find("\"device\":\"sim\",\"op\""), std::string::npos) << trace;  // sim launches
  }
}

// The same network with batch norm after the convolutions: by default each rank normalises with
// its slice's statistics (as PyTorch's DDP), which is not what one process does with the whole
// batch; with sync_batch_norm the ranks normalise with the global batch's and train the same.
TEST_F(DistributedTrainTest, SyncBatchNormTrainsWhatOneProcessTrainsWithTheDoubledBatch) {
  const json model = test::colour_network({{{"name", "bn3"}, {"type", "batch_norm2d"}},
                                           {{"name", "flat"}, {"type", "flatten"}},
                                           {{"name", "fc1"}, {"type", "linear"}, {"out_features", 32}},
                                           {{"name", "relu3"}, {"type", "relu"}},
                                           {{"name", "fc"}, {"type", "linear"}, {"out_features", "outputs"}}});
  write_file_atomically(path("tiny_bn.json"), model.dump());
  const std::string with_bn = "--set model.config=tiny_bn.json";
  ASSERT_EQ(train(1, "one", with_bn + " data.batch_size=8"), 0) << log("one");
  ASSERT_EQ(train(2, "synced", with_bn + " distributed.sync_batch_norm=true"), 0) << log("synced");
  ASSERT_EQ(train(2, "per-rank", with_bn), 0) << log("per-rank");
  const double synced = weight_difference("one/final.safetensors", "synced/final.safetensors");
  const double per_rank = weight_difference("one/final.safetensors", "per-rank/final.safetensors");
  std::printf("against one process: %.2e with sync_batch_norm, %.2e without\n", synced, per_rank);
  EXPECT_LT(synced, 1e-4);
  EXPECT_GT(per_rank, 1e-3);

  // 24 pictures in global batches of 10: the last holds 4, all on rank 0, and rank 1 has none to
  // normalise. Every rank skips it, with a warning, rather than wait for rank 1.
  ASSERT_EQ(train(2, "short", with_bn + " distributed.sync_batch_norm=true data.batch_size=5 epochs=1"), 0)
      << log("short");
  EXPECT_NE(log("short").find("1 of 2 ranks have no samples; with sync_batch_norm the global batch is skipped"),
            std::string::npos)
      << log("short");
}

TEST_F(DistributedTrainTest, DeterministicSumsMakeARunBitIdenticalToItself) {
  const std::string deterministic = "--set distributed.deterministic=true";
  ASSERT_EQ(train(2, "first", deterministic), 0) << log("first");
  ASSERT_EQ(train(2, "second", deterministic), 0) << log("second");
  const std::map<std::string, Tensor> first = weights("first/final.safetensors");
  const std::map<std::string, Tensor> second = weights("second/final.safetensors");
  for (const auto& [name, tensor] : first)
    EXPECT_EQ(std::memcmp(tensor.raw_data(), second.at(name).raw_data(), tensor.nbytes()), 0) << name;
  EXPECT_EQ(losses("first"), losses("second"));
}

TEST_F(DistributedTrainTest, ARunOfTwoRanksResumesOnOne) {
  // Two ranks for 4 steps (the second epoch's first step: mid-epoch), then one process with the
  // same global batch to the end; against one process all along.
  ASSERT_EQ(train(2, "moved", "--set max_steps=4"), 0) << log("moved");
  ASSERT_EQ(train(1, "moved", "--resume --set data.batch_size=8"), 0) << log("moved");
  EXPECT_NE(log("moved").find("step 4, epoch 1, sample 8"), std::string::npos) << log("moved");
  ASSERT_EQ(train(1, "one", "--set data.batch_size=8"), 0) << log("one");
  EXPECT_LT(weight_difference("one/final.safetensors", "moved/final.safetensors"), 1e-4);
}

// The process ids of the ranks that `launcher` started (its children with an MPI rank).
std::map<int, pid_t> ranks_of(pid_t launcher) {
  std::map<int, pid_t> ranks;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    pid_t parent = 0;
    if (!(stat >> pid >> comm >> state >> parent) || parent != launcher) continue;
    std::ifstream environ(entry.path() / "environ");
    for (std::string variable; std::getline(environ, variable, '\0');)
      if (variable.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) ranks[std::stoi(variable.substr(21))] = std::stoi(name);
  }
  return ranks;
}

class StoppedRankTest : public DistributedTrainTest {
 protected:
  // Starts a long two-rank run, waits until it has taken a few steps, sends `signal` to rank 1,
  // and returns the launcher's exit status and how long the job took to end after that.
  std::pair<int, double> run_and_stop_rank_1(int signal, const std::string& more) {
    return run_and_disturb(
        [&](const std::map<int, pid_t>& ranks) {
          if (ranks.count(1)) ::kill(ranks.at(1), signal);
        },
        more);
  }

  // The same, doing `disturb` (given the ranks' process ids) instead.
  std::pair<int, double> run_and_disturb(const std::function<void(const std::map<int, pid_t>&)>& disturb,
                                         const std::string& more) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      const std::string line = command(2, "stopped", "--set epochs=1000 " + more);
      ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const Clock::time_point begin = Clock::now();
    std::map<int, pid_t> ranks;
    while (Clock::now() - begin < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (fs::exists(path("stopped/metrics.jsonl")) && losses("stopped").size() >= 3) {
        ranks = ranks_of(pid);
        break;
      }
    }
    EXPECT_EQ(ranks.size(), 2u) << log("stopped");
    disturb(ranks);
    const Clock::time_point stopped = Clock::now();
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() - stopped > std::chrono::seconds(60)) {
        ADD_FAILURE() << "the job still runs a minute after a rank stopped";
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-pid, SIGKILL);  // a stopped rank that the launcher left behind
    for (const auto& [rank, rank_pid] : ranks) ::kill(rank_pid, SIGKILL);
    const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), seconds};
  }
};

TEST_F(StoppedRankTest, AKilledRankStopsTheJobAndIsNamed) {
  const auto [status, seconds] = run_and_stop_rank_1(SIGKILL, "");
  std::printf("the job ended %.1f s after rank 1 was killed, exit status %d\n", seconds, status);
  if (std::getenv("I2V_SHOW_LOG")) std::printf("%s", log("stopped").c_str());
  EXPECT_NE(status, 0);
  EXPECT_NE(log("stopped").find("rank 1"), std::string::npos) << log("stopped");
}

TEST_F(StoppedRankTest, AHungRankMakesTheOthersStopAfterTheTimeout) {
  const auto [status, seconds] = run_and_stop_rank_1(SIGSTOP, "--set distributed.timeout_s=3");
  std::printf("the job ended %.1f s after rank 1 was stopped, exit status %d\n", seconds, status);
  if (std::getenv("I2V_SHOW_LOG")) std::printf("%s", log("stopped").c_str());
  EXPECT_NE(status, 0);
  EXPECT_GE(seconds, 2.5);
  EXPECT_NE(log("stopped").find("rank 0 of 2: error: no answer from the other ranks for 3 s"), std::string::npos)
      << log("stopped");
}

// Rank 0 cannot write its next checkpoint (its directory has become a file): it fails with an
// error, and the job ends with its message instead of leaving rank 1 waiting in the next step.
TEST_F(StoppedRankTest, ARankThatFailsWithAnErrorStopsTheJob) {
  const auto [status, seconds] = run_and_disturb(
      [&](const std::map<int, pid_t>&) {
        // Moved away in one step (rank 0 may be writing into it), a file put in its place.
        fs::rename(path("stopped/checkpoints"), path("stopped/checkpoints.moved"));
        std::ofstream(path("stopped/checkpoints")) << "not a directory\n";
      },
      "");
  std::printf("the job ended %.1f s after rank 0's checkpoint directory went, exit status %d\n", seconds, status);
  if (std::getenv("I2V_SHOW_LOG")) std::printf("%s", log("stopped").c_str());
  EXPECT_NE(status, 0);
  EXPECT_LT(seconds, 30);
  EXPECT_NE(log("stopped").find("rank 0 of 2 failed (exit status 1): stopping every rank"), std::string::npos)
      << log("stopped");
}

}  // namespace
}  // namespace i2v
