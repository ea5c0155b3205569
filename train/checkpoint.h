// Training checkpoints: named tensors (model weights and buffers, optimizer state such as
// momentum) and a JSON document (config, RNG states, data position, step, epoch, metrics), in
// one file that is refused on load if any of its bytes changed or went missing.
//
// The file is a safetensors file (nn/safetensors.h), so any safetensors reader and
// `i2v weights show` open it, whose header starts with a checksum:
//
//   {"__metadata__":{"i2v.checkpoint.crc32":"1c291ca3","i2v.checkpoint.format":"1",
//                    "i2v.checkpoint.state":"{\"step\":1200,...}"},"fc.weight":{...},...}
//
// The CRC-32 (zlib's) covers every byte of the file except its own eight hex digits: a
// truncation or a changed byte anywhere — length, header, state or tensor data — is detected
// (with probability 1 - 2^-32 for arbitrary damage), on top of the strict safetensors checks.
// Files are written atomically (base/atomic_file.h): a crash leaves the old file or the new one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"
#include "nn/tensor.h"

namespace i2v {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;  // any devices when saved; loaded on the cpu
  nlohmann::json state;
};

// Writes `checkpoint` to `path` atomically.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Reads and verifies the whole file; throws i2v::Error naming the file and what is wrong.
Checkpoint load_checkpoint(const std::string& path);

// For tools that open any safetensors file: whether it carries a checkpoint's checksum, and
// verifying that checksum (throws naming the file when it does not match).
bool has_checkpoint_checksum(const SafetensorsFile& file);
void verify_checkpoint_checksum(const SafetensorsFile& file);

// "checkpoint-000001200.i2vckpt": the file name of a step's checkpoint in a CheckpointDirectory.
std::string checkpoint_file_name(int64_t step);

// The newest checkpoint of a directory that loads, and what was passed over to reach it.
struct LatestCheckpoint {
  int64_t step = 0;
  std::string path;
  Checkpoint checkpoint;
  // Why each newer file did not load (one line each, naming it); the caller should print them.
  std::vector<std::string> skipped;
};

// A directory of checkpoint-<step>.i2vckpt files that keeps the newest `keep`.
//
// Policy: `load_latest` tries the files from the highest step down and returns the first that
// loads and verifies, with a line for each newer one it skipped (a damaged file is reported and
// left in place, never deleted by a reader). When no file is present it returns nothing (a
// fresh start); when files are present but none loads it throws, listing why, rather than let a
// run silently start over. `save` never deletes the file it just wrote: after writing it, it
// deletes the lowest steps until `keep` files remain, and removes temporary files that a killed
// writer left behind.
class CheckpointDirectory {
 public:
  // Creates the directory when missing. `keep` >= 1 (2 or more leaves a fallback).
  CheckpointDirectory(std::string directory, int keep);

  const std::string& directory() const { return directory_; }
  // Writes the checkpoint of `step` (>= 0) and prunes; returns the file's path.
  std::string save(int64_t step, const Checkpoint& checkpoint) const;
  // The checkpoint files present, lowest step first.
  std::vector<std::pair<int64_t, std::string>> list() const;
  std::optional<LatestCheckpoint> load_latest() const;

 private:
  void prune(const std::string& just_written) const;

  std::string directory_;
  int keep_;
};

}  // namespace i2v
