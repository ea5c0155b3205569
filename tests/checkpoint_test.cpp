// Checkpoints: round trip, every truncation and every damaged byte refused, the directory's
// keep-last-K and fall-back policy, and a writer killed with SIGKILL at random moments never
// leaving an unreadable latest checkpoint.
#include "train/checkpoint.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/safetensors.h"
#include "base/atomic_file.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

using CheckpointTest = test::TempDirectoryTest;

// What a training run saves: weights, a buffer, momentum, and its state.
Checkpoint training_checkpoint(std::mt19937_64& rng, int64_t step) {
  Checkpoint checkpoint;
  checkpoint.tensors["model.conv1.weight"] = test::random_tensor({4, 3, 3, 3}, rng);
  checkpoint.tensors["model.conv1.bias"] = test::random_tensor({4}, rng);
  checkpoint.tensors["model.bn1.num_batches_tracked"] = Tensor::from_vector(std::vector<int64_t>{step}, {});
  checkpoint.tensors["optimizer.momentum.conv1.weight"] = test::random_tensor({4, 3, 3, 3}, rng);
  checkpoint.state = {{"step", step},
                      {"epoch", step / 10},
                      {"rng", {{"generator", "mt19937_64"}, {"seed", 5}, {"draws", 1234}}},
                      {"data", {{"epoch_permutation_seed", 17}, {"position", 123}}},
                      {"config", {{"model", "i2v-tag"}, {"lr", 0.01}}},
                      {"metrics", {{"loss", 0.6931}, {"best_val_map", nullptr}}}};
  return checkpoint;
}

// Replaces the file's contents (without the atomic writer's fsync: these files are throwaway).
void overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void expect_same(const Checkpoint& loaded, const Checkpoint& saved) {
  EXPECT_EQ(loaded.state, saved.state);
  ASSERT_EQ(loaded.tensors.size(), saved.tensors.size());
  for (const auto& [name, tensor] : saved.tensors) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name;
    const Tensor& got = loaded.tensors.at(name);
    ASSERT_EQ(got.dtype(), tensor.dtype()) << name;
    ASSERT_EQ(got.shape(), tensor.shape()) << name;
    const Tensor want = tensor.to(Device::cpu());
    EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0) << name;
  }
}

TEST_F(CheckpointTest, RoundTripAndReadableAsSafetensors) {
  auto rng = test::test_rng();
  Checkpoint saved = training_checkpoint(rng, 1200);
  saved.tensors["on.sim"] = test::random_tensor({5}, rng, Device::sim());
  save_checkpoint(path("a.i2vckpt"), saved);
  expect_same(load_checkpoint(path("a.i2vckpt")), saved);

  const Safetensors plain = load_safetensors(path("a.i2vckpt"));
  EXPECT_EQ(plain.tensors.size(), saved.tensors.size());
  EXPECT_EQ(plain.metadata.at("i2v.checkpoint.format"), "1");
  EXPECT_EQ(nlohmann::json::parse(plain.metadata.at("i2v.checkpoint.state")), saved.state);
  EXPECT_EQ(plain.metadata.at("i2v.checkpoint.crc32").size(), 8u);
  const SafetensorsFile file(path("a.i2vckpt"));
  EXPECT_TRUE(has_checkpoint_checksum(file));
  EXPECT_NO_THROW(verify_checkpoint_checksum(file));
}

TEST_F(CheckpointTest, EveryTruncationIsRefused) {
  auto rng = test::test_rng();
  save_checkpoint(path("full.i2vckpt"), training_checkpoint(rng, 7));
  const std::string bytes = read_file(path("full.i2vckpt"));
  for (size_t size = 0; size < bytes.size(); ++size) {
    overwrite(path("cut.i2vckpt"), bytes.substr(0, size));
    EXPECT_THROW(load_checkpoint(path("cut.i2vckpt")), Error) << "cut at " << size << " of " << bytes.size();
  }
}

TEST_F(CheckpointTest, EveryDamagedByteIsRefused) {
  auto rng = test::test_rng();
  save_checkpoint(path("full.i2vckpt"), training_checkpoint(rng, 7));
  const std::string bytes = read_file(path("full.i2vckpt"));
  const uint64_t data_offset = SafetensorsFile(path("full.i2vckpt")).data_offset();
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] ^= char(1 + rng() % 255);
    overwrite(path("damaged.i2vckpt"), damaged);
    try {
      load_checkpoint(path("damaged.i2vckpt"));
      ADD_FAILURE() << "byte " << at << " of " << bytes.size() << " damaged, yet the checkpoint loaded";
    } catch (const Error& e) {
      // Damaged tensor data is consistent safetensors: only the checksum can tell.
      if (at >= data_offset) {
        EXPECT_NE(e.message().find("checksum mismatch"), std::string::npos) << e.message();
      }
    }
  }
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    for (int flips = 2 + int(rng() % 4); flips > 0; --flips) damaged[rng() % bytes.size()] ^= char(1 + rng() % 255);
    overwrite(path("damaged.i2vckpt"), damaged);
    EXPECT_THROW(load_checkpoint(path("damaged.i2vckpt")), Error) << "trial " << trial;
  }
}

TEST_F(CheckpointTest, PlainSafetensorsIsNotACheckpoint) {
  auto rng = test::test_rng();
  save_safetensors(path("weights.safetensors"), {training_checkpoint(rng, 1).tensors, {}});
  EXPECT_FALSE(has_checkpoint_checksum(SafetensorsFile(path("weights.safetensors"))));
  try {
    load_checkpoint(path("weights.safetensors"));
    FAIL() << "loaded a safetensors file without a checksum";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("not an i2v checkpoint"), std::string::npos) << e.message();
  }
}

Checkpoint checkpoint_of_step(int64_t step) {
  Checkpoint checkpoint;
  checkpoint.tensors["w"] = Tensor::full({3}, double(step));
  checkpoint.state = {{"step", step}};
  return checkpoint;
}

void corrupt_last_byte(const std::string& path) {
  std::string bytes = read_file(path);
  bytes.back() ^= 1;
  write_file_atomically(path, bytes);
}

TEST_F(CheckpointTest, DirectoryKeepsTheNewestAndFallsBackPastDamage) {
  const CheckpointDirectory directory(path("run"), 3);
  EXPECT_FALSE(directory.load_latest().has_value());
  for (int64_t step : {10, 20, 30, 40, 50}) directory.save(step, checkpoint_of_step(step));
  std::vector<int64_t> steps;
  for (const auto& [step, file] : directory.list()) steps.push_back(step);
  EXPECT_EQ(steps, std::vector<int64_t>({30, 40, 50}));
  EXPECT_TRUE(fs::exists(path("run/checkpoint-000000050.i2vckpt")));

  std::optional<LatestCheckpoint> latest = directory.load_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 50);
  EXPECT_EQ(latest->checkpoint.state["step"], 50);
  EXPECT_TRUE(latest->skipped.empty());

  corrupt_last_byte(path("run/checkpoint-000000050.i2vckpt"));
  fs::resize_file(path("run/checkpoint-000000040.i2vckpt"), 100);
  latest = directory.load_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 30);
  EXPECT_EQ(latest->checkpoint.tensors.at("w").item<float>({0}), 30.0f);
  ASSERT_EQ(latest->skipped.size(), 2u);
  EXPECT_NE(latest->skipped[0].find("checkpoint-000000050.i2vckpt: "), std::string::npos) << latest->skipped[0];
  EXPECT_NE(latest->skipped[0].find("checksum mismatch"), std::string::npos) << latest->skipped[0];
  EXPECT_NE(latest->skipped[1].find("checkpoint-000000040.i2vckpt"), std::string::npos) << latest->skipped[1];
  EXPECT_EQ(directory.list().size(), 3u);  // a reader never deletes

  // Resumed from 30, the run saves 35: it is kept even though higher steps exist.
  directory.save(35, checkpoint_of_step(35));
  steps.clear();
  for (const auto& [step, file] : directory.list()) steps.push_back(step);
  EXPECT_EQ(steps, std::vector<int64_t>({35, 40, 50}));

  corrupt_last_byte(path("run/checkpoint-000000035.i2vckpt"));
  try {
    directory.load_latest();
    FAIL() << "every checkpoint is damaged, yet one loaded";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("none of the 3 checkpoints"), std::string::npos) << e.message();
  }
  EXPECT_THROW(CheckpointDirectory(path("run"), 0), Error);
  EXPECT_THROW(directory.save(-1, checkpoint_of_step(0)), Error);
}

TEST_F(CheckpointTest, SaveRemovesTemporariesOfDeadWritersOnly) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const CheckpointDirectory directory(path("run"), 2);
  const std::string abandoned = path(fmt::format("run/checkpoint-000000007.i2vckpt.tmp.{}.12345", dead));
  const std::string live = path(fmt::format("run/checkpoint-000000008.i2vckpt.tmp.{}.12345", ::getppid()));
  const std::string unrelated = path(fmt::format("run/notes.tmp.{}.1", dead));
  for (const std::string& file : {abandoned, live, unrelated}) write_file_atomically(file, std::string("partial"));
  directory.save(1, checkpoint_of_step(1));
  EXPECT_FALSE(fs::exists(abandoned));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(unrelated));
}

// The child saves checkpoints of increasing steps, forever; it is killed at a random moment.
// Every tensor element of step s's checkpoint is s, and its state says s: a torn or mixed file
// would show.
[[noreturn]] void write_checkpoints_until_killed(const CheckpointDirectory& directory, int64_t first_step,
                                                 Checkpoint checkpoint) {
  try {
    for (int64_t step = first_step;; ++step) {
      for (auto& [name, tensor] : checkpoint.tensors) std::fill_n(tensor.data<float>(), tensor.numel(), float(step));
      checkpoint.state["step"] = step;
      directory.save(step, checkpoint);
    }
  } catch (...) {
    ::_exit(3);
  }
}

TEST_F(CheckpointTest, SigkillAtRandomMomentsNeverLeavesAnUnreadableLatest) {
  auto rng = test::test_rng();
  const CheckpointDirectory directory(path("run"), 2);
  directory.save(0, checkpoint_of_step(0));
  // Tensors allocated before fork(), so the child only writes into them: it runs no kernel
  // (whose thread pool would not survive fork()). 1 MiB a checkpoint: kills land mid-write.
  Checkpoint checkpoint;
  for (int i = 0; i < 4; ++i) checkpoint.tensors[fmt::format("layer{}.weight", i)] = Tensor::empty({256, 256});

  int kills_mid_write = 0;
  int64_t step = 0;
  for (int round = 0; round < 16; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << std::strerror(errno);
    if (child == 0) write_checkpoints_until_killed(directory, step + 1, checkpoint);
    // Once the child has saved one checkpoint (so every round makes progress, however slow the
    // disk), kill it at a random moment of its next writes.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (directory.list().back().first <= step && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself with status " << status;

    for (const fs::directory_entry& entry : fs::directory_iterator(path("run")))
      kills_mid_write += entry.path().filename().string().find(".tmp.") != std::string::npos;
    const std::optional<LatestCheckpoint> latest = directory.load_latest();
    ASSERT_TRUE(latest.has_value());
    EXPECT_TRUE(latest->skipped.empty()) << latest->skipped.front();
    ASSERT_GT(latest->step, step) << "the writer saved nothing in 20 s";
    step = latest->step;
    EXPECT_EQ(latest->checkpoint.state["step"], step);
    for (const auto& [name, tensor] : latest->checkpoint.tensors) {
      const std::vector<float> values = tensor.to_vector<float>();
      EXPECT_TRUE(std::all_of(values.begin(), values.end(), [&](float v) { return v == float(step); })) << name;
    }
  }
  std::printf("[ i2v    ] %d kills, %d of them left a half-written temporary; reached step %lld\n", 16,
              kills_mid_write, static_cast<long long>(step));

  directory.save(step + 1, checkpoint_of_step(step + 1));
  for (const fs::directory_entry& entry : fs::directory_iterator(path("run")))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  EXPECT_EQ(directory.list().size(), 2u);
}

}  // namespace
}  // namespace i2v
