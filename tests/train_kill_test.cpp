// The real `i2v train`, killed with SIGKILL at 20 random moments — while it starts, during steps
// and during checkpoint writes (a checkpoint after every step, so most of a step's time is a
// write) — and resumed each time with --resume, ends with weights bit-identical to an
// uninterrupted run's; after every kill, every checkpoint in the run directory loads (none is
// left half-written), and so do the weights and the config the run wrote.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/file.h"
#include "base/random.h"
#include "data/image.h"
#include "nn/safetensors.h"
#include "tests/data_fixture.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"

namespace i2v {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

class TrainKillTest : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    // As trainer_test's fixture: a small network with dropout (so that its random state must
    // resume too), momentum, a plateau schedule, hflips.
    test::write_colour_classes(path("pictures"));
    const json model = test::colour_network({{{"name", "flat"}, {"type", "flatten"}},
                                             // 0.6 M parameters: a checkpoint (weights and momentum)
                                             // of 4.7 MB takes longer to write than a step takes,
                                             // also where fsync costs nothing.
                                             {{"name", "fc1"}, {"type", "linear"}, {"out_features", 2048}},
                                             {{"name", "relu3"}, {"type", "relu"}},
                                             {{"name", "drop"}, {"type", "dropout"}, {"p", 0.2}},
                                             {{"name", "fc"}, {"type", "linear"}, {"out_features", "outputs"}}});
    write_file_atomically(path("tiny.json"), model.dump());
    const json config = {{"run", "runs/unused"},
                         {"seed", 3},
                         {"model", {{"config", "tiny.json"}}},
                         {"data", test::colour_data("pictures", 4, 2)},
                         {"optimizer", {{"momentum", 0.9}, {"weight_decay", 1e-4}}},
                         {"schedule", {{"lr", 0.05}, {"type", "plateau"}, {"patience", 1}}},
                         {"epochs", kEpochs},
                         {"log_every_steps", 1},
                         {"checkpoint_every_steps", 1},
                         {"keep_checkpoints", 2}};
    write_file_atomically(path("train.json"), config.dump(2));
  }

  static constexpr int kEpochs = 12;  // 6 steps each

  // Starts `i2v train` on the fixture into `run` (in the test's directory), its output appended
  // to `run`.log; returns the process id.
  pid_t start(const std::string& run, bool resume, const std::string& more = "") {
    const std::string command =
        fmt::format("cd '{}' && exec env OMP_NUM_THREADS=1 '{}' train --config train.json --run {} {} {} >>{}.log 2>&1",
                    dir_.string(), I2V_TOOL, run, resume ? "--resume" : "", more, run);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }

  // A status from waitpid as a shell reports it: the exit status, or 128 + the signal.
  static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

  // Waits for `pid`; its exit code.
  static int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return exit_code(status);
  }

  // Polls every millisecond until `happened()` or until the process `pid` ends (its exit code
  // then in `*code`); true when it happened with the process still running.
  static bool watch(pid_t pid, const std::function<bool()>& happened, int* code) {
    const Clock::time_point give_up = Clock::now() + std::chrono::minutes(2);
    while (Clock::now() < give_up) {
      if (happened()) return true;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        *code = exit_code(status);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "waited two minutes for a moment to kill the run at";
    return true;
  }

  // The names in `run`/checkpoints: finished checkpoints, and the temporaries of writes under way.
  struct Checkpoints {
    std::set<std::string> finished, temporaries;
  };
  Checkpoints checkpoints(const std::string& run) const {
    Checkpoints names;
    std::error_code error;  // the folder may not exist yet, and a name may go while it is listed
    for (const fs::directory_entry& entry : fs::directory_iterator(path(run + "/checkpoints"), error)) {
      const std::string name = entry.path().filename().string();
      (name.find(".tmp.") != std::string::npos ? names.temporaries : names.finished).insert(name);
    }
    return names;
  }

  // How many of `now` are not in `before`.
  static size_t new_names(const std::set<std::string>& now, const std::set<std::string>& before) {
    size_t count = 0;
    for (const std::string& name : now) count += before.count(name) == 0;
    return count;
  }

  // Runs to the end; returns the seconds it took.
  double run_to_end(const std::string& run, bool resume, const std::string& more = "") {
    const Clock::time_point begin = Clock::now();
    const int status = wait_for(start(run, resume, more));
    EXPECT_EQ(status, 0) << read_file(path(run + ".log"));
    return std::chrono::duration<double>(Clock::now() - begin).count();
  }

  // What a kill may leave: temporaries of unfinished writes, never a damaged file. Returns how
  // many temporaries there are (writes the kill interrupted).
  int check_nothing_half_written(const std::string& run) {
    int temporaries = 0;
    std::error_code error;
    for (const std::string& folder : {run, run + "/checkpoints"})
      for (const fs::directory_entry& entry : fs::directory_iterator(path(folder), error)) {
        const std::string name = entry.path().filename().string();
        if (name.find(".tmp.") != std::string::npos) {
          ++temporaries;
          continue;
        }
        SCOPED_TRACE(entry.path().string());
        try {
          if (name.rfind("checkpoint-", 0) == 0) load_checkpoint(entry.path().string());
          if (entry.path().extension() == ".safetensors") load_safetensors(entry.path().string());
          if (entry.path().extension() == ".json") {
            EXPECT_TRUE(json::parse(read_file(entry.path().string())).is_object());
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << "a file left damaged by a kill: " << e.what();
        }
      }
    return temporaries;
  }

  std::map<std::string, Tensor> weights(const std::string& file) const {
    return load_safetensors(path(file)).tensors;
  }
};

TEST_F(TrainKillTest, KilledAt20RandomMomentsAndResumedEndsWithTheSameBits) {
  // The uninterrupted run, and how long a run takes to start and do one step (its startup).
  const double whole = run_to_end("reference", false);
  const double startup = run_to_end("probe", false, "--set max_steps=1");
  const double training = std::max(whole - startup, 0.1);
  std::printf("uninterrupted run %.2f s, of which ~%.2f s starting\n", whole, startup);

  // Three kinds of moment, in turn, each at a random time:
  //  - starting: after a delay of up to the startup (reading the data, writing config.json,
  //    loading the checkpoint it resumes from);
  //  - writing: as soon as the resumed run's 1st, 2nd or 3rd checkpoint write is seen under way;
  //  - stepping: up to one step's time after its 1st, 2nd or 3rd checkpoint is finished.
  // The last two follow what the run has done, not the clock: on a loaded machine (CI runs the
  // tests two at a time, under ASan too) a resumed run may start far slower than the timed runs.
  const double step_time = training / (kEpochs * 6);
  Rng rng(test::run_seed());
  int kills = 0, finished_early = 0, interrupted_writes = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    const Checkpoints before = checkpoints("killed");
    const pid_t pid = start("killed", /*resume=*/true);
    const size_t nth = 1 + rng.below(3);
    int code = 0;
    bool running = true;
    if (attempt % 3 == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(rng.uniform(0, startup)));
    } else if (attempt % 3 == 1) {
      std::set<std::string> writes_seen;
      running = watch(pid, [&] {
        for (const std::string& name : checkpoints("killed").temporaries) writes_seen.insert(name);
        return new_names(writes_seen, before.temporaries) >= nth;
      }, &code);
    } else {
      running = watch(pid, [&] { return new_names(checkpoints("killed").finished, before.finished) >= nth; }, &code);
      if (running) std::this_thread::sleep_for(std::chrono::duration<double>(rng.uniform(0, step_time)));
    }
    if (running) {
      ::kill(pid, SIGKILL);
      code = wait_for(pid);
    }
    if (code == 128 + SIGKILL) {
      ++kills;
    } else {
      EXPECT_EQ(code, 0) << read_file(path("killed.log"));
      ++finished_early;
    }
    interrupted_writes += check_nothing_half_written("killed") > 0;
  }
  std::printf("%d kills (%d of them during a write), %d runs finished before their kill\n", kills,
              interrupted_writes, finished_early);
  EXPECT_EQ(kills, 20) << "a run finished before its kill";
  EXPECT_GE(interrupted_writes, 1) << "no kill came during a write";
  run_to_end("killed", /*resume=*/true);
  EXPECT_EQ(check_nothing_half_written("killed"), 0);

  // The same bits as the uninterrupted run: final and best weights.
  for (const char* file : {"final.safetensors", "best.safetensors"}) {
    SCOPED_TRACE(file);
    const std::map<std::string, Tensor> expected = weights(std::string("reference/") + file);
    const std::map<std::string, Tensor> got = weights(std::string("killed/") + file);
    ASSERT_EQ(got.size(), expected.size());
    for (const auto& [name, tensor] : expected) {
      ASSERT_TRUE(got.count(name)) << name;
      const Tensor& other = got.at(name);
      ASSERT_EQ(other.nbytes(), tensor.nbytes()) << name;
      EXPECT_EQ(std::memcmp(other.raw_data(), tensor.raw_data(), tensor.nbytes()), 0) << name << " differs";
    }
  }
}

// Ctrl-C (SIGINT) and SIGTERM: a checkpoint, then exit status 130 and 143 (128 + the signal), not
// 0; --resume then finishes the run.
TEST_F(TrainKillTest, CtrlCAndSigtermSaveACheckpointAndExitWith128PlusTheSignal) {
  int launches = 0;
  for (const auto& [signal, expected] : {std::pair{SIGINT, 130}, std::pair{SIGTERM, 143}}) {
    SCOPED_TRACE(signal);
    const pid_t pid = start("stopped", /*resume=*/true);
    ++launches;
    // The handlers are installed once the run says how it starts.
    const Clock::time_point begin = Clock::now();
    auto started = [&] {
      const std::string log = fs::exists(path("stopped.log")) ? read_file(path("stopped.log")) : "";
      int count = 0;
      for (const char* line : {"resuming from", "no checkpoint in"})
        for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++count;
      return count >= launches;
    };
    while (!started() && Clock::now() - begin < std::chrono::seconds(30))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ::kill(pid, signal);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string log = read_file(path("stopped.log"));
    ASSERT_TRUE(WIFEXITED(status)) << "ended by a signal, not by i2v's exit\n" << log;
    EXPECT_EQ(WEXITSTATUS(status), expected) << log;
    EXPECT_NE(log.find(fmt::format("i2v: interrupted by signal {}: checkpoint saved at step", signal)),
              std::string::npos) << log;
    EXPECT_EQ(check_nothing_half_written("stopped"), 0);
    EXPECT_FALSE(fs::is_empty(path("stopped/checkpoints")));
  }
  run_to_end("stopped", /*resume=*/true);
  EXPECT_TRUE(fs::exists(path("stopped/final.safetensors")));
}

}  // namespace
}  // namespace i2v
