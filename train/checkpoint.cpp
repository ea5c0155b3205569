#include "train/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "base/atomic_file.h"
#include "base/crc32.h"
#include "base/error.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

const std::string kChecksumKey = "i2v.checkpoint.crc32";
const std::string kFormatKey = "i2v.checkpoint.format";
const std::string kStateKey = "i2v.checkpoint.state";
const std::string kFormatVersion = "1";
// The header text before the checksum's digits. The metadata comes first in the header and its
// keys in sorted order, so the checksum is always here: at byte 8 + kChecksumPrefix.size().
const std::string kChecksumPrefix = "{\"__metadata__\":{\"" + kChecksumKey + "\":\"";
constexpr size_t kChecksumDigits = 8;

// The CRC-32 of bytes [begin, end) of the file, continued from `crc`.
uint32_t crc32_of_range(const SafetensorsFile& file, uint64_t begin, uint64_t end, uint32_t crc) {
  std::vector<unsigned char> chunk(size_t(1) << 20);
  for (uint64_t offset = begin; offset < end;) {
    const size_t bytes = size_t(std::min<uint64_t>(chunk.size(), end - offset));
    file.read_bytes(offset, chunk.data(), bytes);
    crc = crc32_of(chunk.data(), bytes, crc);
    offset += bytes;
  }
  return crc;
}

}  // namespace

bool has_checkpoint_checksum(const SafetensorsFile& file) { return file.metadata().count(kChecksumKey) > 0; }

void verify_checkpoint_checksum(const SafetensorsFile& file) {
  const std::string& path = file.path();
  const uint64_t digits_at = 8 + kChecksumPrefix.size();
  std::string start(kChecksumPrefix.size() + kChecksumDigits, '\0');
  I2V_CHECK(file.data_offset() >= 8 + start.size(), "{}: not an i2v checkpoint (no checksum in its header)", path);
  file.read_bytes(8, start.data(), start.size());
  I2V_CHECK(start.compare(0, kChecksumPrefix.size(), kChecksumPrefix) == 0,
            "{}: not an i2v checkpoint (its header does not start with {})", path, kChecksumKey);
  const std::string digits = start.substr(kChecksumPrefix.size());
  I2V_CHECK(digits.find_first_not_of("0123456789abcdef") == std::string::npos,
            "{}: the checksum '{}' is not 8 hexadecimal digits", path, digits);
  const uint32_t stored = uint32_t(std::stoul(digits, nullptr, 16));

  uint32_t computed = crc32_of_range(file, 0, digits_at, 0);
  computed = crc32_of_range(file, digits_at + kChecksumDigits, file.file_bytes(), computed);
  I2V_CHECK(computed == stored,
            "{}: checksum mismatch (stored {}, computed {:08x}): the file is corrupt or was modified", path,
            digits, computed);
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  Safetensors contents;
  contents.tensors = checkpoint.tensors;
  contents.metadata = {{kChecksumKey, std::string(kChecksumDigits, '0')},
                       {kFormatKey, kFormatVersion},
                       {kStateKey, checkpoint.state.dump()}};
  SafetensorsLayout layout = layout_safetensors(contents);
  const size_t digits_at = 8 + kChecksumPrefix.size();
  I2V_CHECK(layout.header.compare(8, kChecksumPrefix.size(), kChecksumPrefix) == 0,
            "internal: the checkpoint header does not start with its checksum");

  uint32_t crc = crc32_of(layout.header.data(), digits_at);
  crc = crc32_of(layout.header.data() + digits_at + kChecksumDigits, layout.header.size() - digits_at - kChecksumDigits,
                 crc);
  for (const Tensor& tensor : layout.data) crc = crc32_of(tensor.raw_data(), tensor.nbytes(), crc);
  layout.header.replace(digits_at, kChecksumDigits, fmt::format("{:08x}", crc));

  write_file_atomically(path, [&](File& file) { write_safetensors_layout(file, layout); });
}

Checkpoint load_checkpoint(const std::string& path) {
  const SafetensorsFile file(path);
  verify_checkpoint_checksum(file);
  const std::map<std::string, std::string>& metadata = file.metadata();
  const auto format = metadata.find(kFormatKey);
  I2V_CHECK(format != metadata.end() && format->second == kFormatVersion,
            "{}: checkpoint format {} is not the one this i2v reads ({})", path,
            format == metadata.end() ? "(none)" : format->second, kFormatVersion);
  const auto state = metadata.find(kStateKey);
  I2V_CHECK(state != metadata.end(), "{}: the checkpoint has no {}", path, kStateKey);

  Checkpoint checkpoint;
  try {
    checkpoint.state = nlohmann::json::parse(state->second);
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: the checkpoint's state is not valid JSON: {}", path, e.what());
  }
  for (const SafetensorsEntry& entry : file.entries()) checkpoint.tensors[entry.name] = file.read(entry);
  return checkpoint;
}

std::string checkpoint_file_name(int64_t step) { return fmt::format("checkpoint-{:09d}.i2vckpt", step); }

namespace {

// The step of a checkpoint file name, or -1 when the name is not one.
int64_t step_of_file_name(const std::string& name) {
  const std::string prefix = "checkpoint-", suffix = ".i2vckpt";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

CheckpointDirectory::CheckpointDirectory(std::string directory, int keep)
    : directory_(std::move(directory)), keep_(keep) {
  I2V_CHECK(keep_ >= 1, "a checkpoint directory keeps at least 1 checkpoint, not {}", keep_);
  std::error_code error;
  fs::create_directories(directory_, error);
  I2V_CHECK(!error, "cannot create the checkpoint directory {}: {}", directory_, error.message());
}

std::string CheckpointDirectory::save(int64_t step, const Checkpoint& checkpoint) const {
  I2V_CHECK(step >= 0, "checkpoint step {} is negative", step);
  const std::string path = (fs::path(directory_) / checkpoint_file_name(step)).string();
  save_checkpoint(path, checkpoint);
  prune(path);
  return path;
}

std::vector<std::pair<int64_t, std::string>> CheckpointDirectory::list() const {
  std::vector<std::pair<int64_t, std::string>> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    const int64_t step = step_of_file_name(entry.path().filename().string());
    if (step >= 0) files.emplace_back(step, entry.path().string());
  }
  I2V_CHECK(!error, "cannot list the checkpoint directory {}: {}", directory_, error.message());
  std::sort(files.begin(), files.end());
  return files;
}

void CheckpointDirectory::prune(const std::string& just_written) const {
  std::vector<std::pair<int64_t, std::string>> others = list();
  others.erase(std::remove_if(others.begin(), others.end(),
                              [&](const auto& file) { return file.second == just_written; }),
               others.end());
  const size_t others_to_keep = size_t(keep_ - 1);
  for (size_t i = 0; i + others_to_keep < others.size(); ++i) {
    std::error_code error;
    fs::remove(others[i].second, error);
    I2V_CHECK(!error, "cannot delete the old checkpoint {}: {}", others[i].second, error.message());
  }
  // Checkpoints this process did not finish writing because it was killed.
  remove_abandoned_temporaries(directory_, [](const std::string& target) { return step_of_file_name(target) >= 0; });
}

std::optional<LatestCheckpoint> CheckpointDirectory::load_latest() const {
  const std::vector<std::pair<int64_t, std::string>> files = list();
  std::vector<std::string> skipped;
  for (auto file = files.rbegin(); file != files.rend(); ++file) {
    try {
      LatestCheckpoint latest{file->first, file->second, load_checkpoint(file->second), skipped};
      return latest;
    } catch (const Error& e) {
      skipped.push_back(e.message());  // it names the file
    }
  }
  if (files.empty()) return std::nullopt;
  std::string reasons;
  for (const std::string& line : skipped) reasons += "\n  " + line;
  I2V_THROW("none of the {} checkpoints in {} can be loaded:{}", files.size(), directory_, reasons);
}

}  // namespace i2v
