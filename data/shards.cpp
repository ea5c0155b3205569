#include "data/shards.h"

#include <glob.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/file.h"
#include "base/text.h"
#include "data/data_error.h"
#include "data/image.h"
#include "data/tarball.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// Metadata members are small; a larger one is not metadata (and is not read into memory).
constexpr int64_t kMaxMetadataBytes = 1 << 20;

struct Member {
  std::string name;
  int64_t offset = 0, size = 0;
};

std::string key_of(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.find('.', slash == std::string::npos ? 0 : slash + 1);
  return name.substr(0, dot);
}

std::string extension_of(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.find('.', slash == std::string::npos ? 0 : slash + 1);
  return dot == std::string::npos ? "" : to_lower(name.substr(dot + 1));
}

// One sample's members, gathered while the key stays the same.
struct Sample {
  std::string key;
  std::optional<Member> picture;
  std::optional<Member> json, text;
};

}  // namespace

std::vector<std::string> shard_files(const std::vector<std::string>& patterns) {
  std::vector<std::string> files;
  for (const std::string& pattern : patterns) {
    glob_t found{};
    const int status = ::glob(pattern.c_str(), 0, nullptr, &found);
    std::vector<std::string> matched(found.gl_pathv, found.gl_pathv + (status == 0 ? found.gl_pathc : 0));
    globfree(&found);
    I2V_CHECK(!matched.empty(), "no shard matches {}", pattern);
    std::sort(matched.begin(), matched.end(), natural_less);
    for (const std::string& file : matched) files.push_back(fs::absolute(file).lexically_normal().string());
  }
  return files;
}

std::string read_shard_member(const std::string& path, int64_t offset, int64_t size) {
  std::string bytes(size_t(size), '\0');
  try {
    File::open_for_reading(path).read_exactly_at(uint64_t(offset), bytes.data(), bytes.size());
  } catch (const Error& e) {
    I2V_DATA_ERROR(DataProblem::missing_file, "{} at byte {}: {}", path, offset, e.message());
  }
  return bytes;
}

void for_each_shard_post(const std::string& shard, const std::function<void(Post&)>& visit, DataReport& report) {
  const std::string name = fs::path(shard).filename().string();
  std::optional<File> file;
  try {
    file.emplace(File::open_for_reading(shard));
  } catch (const Error& e) {
    report.add_skipped(DataProblem::missing_file, name, e.message());
    return;
  }
  const int64_t end = int64_t(file->size());
  Post post;
  auto finish = [&](const Sample& sample) {
    if (sample.key.empty()) return;
    post.line = fmt::format("{}:{}", name, sample.key);
    try {
      if (!sample.picture || (!sample.json && !sample.text))
        I2V_DATA_ERROR(DataProblem::incomplete_sample, "sample '{}' has {}", sample.key,
                       !sample.picture ? "no picture (.webp, .jpg, .png, .gif or .bmp)" : "no metadata (.json or .txt)");
      const Member& meta = sample.json ? *sample.json : *sample.text;
      if (meta.size > kMaxMetadataBytes)
        I2V_DATA_ERROR(DataProblem::malformed_json, "the metadata of '{}' is {} bytes: not metadata", sample.key, meta.size);
      std::string text(size_t(meta.size), '\0');
      file->read_exactly_at(uint64_t(meta.offset), text.data(), text.size());
      if (sample.json) {
        parse_post(text, post);
      } else {  // tags as words; the key is the post id
        const std::string id_text = fs::path(sample.key).filename().string();
        char* stop = nullptr;
        const long long id = std::strtoll(id_text.c_str(), &stop, 10);
        if (id_text.empty() || *stop != '\0')
          I2V_DATA_ERROR(DataProblem::malformed_json, "sample '{}' has tags but no id: its key is not a post id", sample.key);
        // Tag names end up in JSON (vocabularies, reports): the text must be UTF-8.
        try {
          nlohmann::json(text).dump();
        } catch (const nlohmann::json::type_error&) {
          I2V_DATA_ERROR(DataProblem::malformed_json, "the tags of sample '{}' are not UTF-8 text", sample.key);
        }
        std::replace(text.begin(), text.end(), ',', ' ');
        std::istringstream words(text);
        post.id = id;
        post.rating = 0;
        post.file_ext.clear();
        post.tags.clear();
        for (std::string word; words >> word;) post.tags.push_back({word, TagCategory::general});
      }
      post.path = shard;
      post.member_offset = sample.picture->offset;
      post.member_size = sample.picture->size;
      visit(post);
    } catch (const DataError& e) {
      report.add_skipped(e, post.line);
      return;
    }
    report.add_read();
  };

  Sample sample;
  std::string long_name;
  char header[512];
  for (int64_t offset = 0; offset < end;) {
    const bool whole = offset + 512 <= end;
    if (whole) file->read_exactly_at(uint64_t(offset), header, sizeof header);
    if (whole && header[0] == '\0') break;  // the end-of-archive blocks
    const uint64_t size = whole ? tar_octal(header + 124, 12) : 0, padded = (size + 511) / 512 * 512;
    const bool cut = !whole || offset + 512 + int64_t(size) > end;
    if (cut || !tar_checksum_matches(header)) {
      finish(sample);
      report.add_skipped(DataProblem::broken_shard, fmt::format("{} at byte {}", name, offset),
                         fmt::format("{}: {} at byte {}; the rest of the shard ({} bytes) is skipped", shard,
                                     cut ? "cut off" : "not a tar header", offset, end - offset));
      return;
    }
    const char type = header[156];
    std::string member = std::string(header + 345, strnlen(header + 345, 155));
    member = member.empty() ? std::string(header, strnlen(header, 100)) : member + "/" + std::string(header, strnlen(header, 100));
    if (!long_name.empty()) std::swap(member, long_name), long_name.clear();
    if (type == 'L' || type == 'x') {  // GNU long name / pax header: the next member's name
      std::string data(size_t(std::min<uint64_t>(size, kMaxMetadataBytes)), '\0');
      file->read_exactly_at(uint64_t(offset + 512), data.data(), data.size());
      if (type == 'L') {
        long_name = std::string(data.c_str());
      } else {
        const size_t at = data.find(" path=");
        if (at != std::string::npos) long_name = data.substr(at + 6, data.find('\n', at) - at - 6);
      }
    } else if (type == '0' || type == '\0') {
      const std::string key = key_of(member), extension = extension_of(member);
      if (key != sample.key) {
        finish(sample);
        sample = Sample{key, {}, {}, {}};
      }
      const Member here{member, offset + 512, int64_t(size)};
      if (is_image_extension(extension)) sample.picture = here;
      else if (extension == "json") sample.json = here;
      else if (extension == "txt") sample.text = here;
    }
    offset += 512 + int64_t(padded);
  }
  finish(sample);
}

void write_tar_shard(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
  write_file_atomically(path, [&](File& out) {
    const std::string padding(512, '\0');
    for (const auto& [name, bytes] : members) {
      I2V_CHECK(!name.empty() && name.size() <= 100, "{}: member name '{}' is not 1 to 100 bytes", path, name);
      char header[512] = {};
      std::memcpy(header, name.data(), name.size());
      std::snprintf(header + 100, 8, "%07o", 0644);
      std::snprintf(header + 108, 8, "%07o", 0);
      std::snprintf(header + 116, 8, "%07o", 0);
      std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(bytes.size()));
      std::snprintf(header + 136, 12, "%011o", 0);
      header[156] = '0';
      std::memcpy(header + 257, "ustar\0" "00", 8);
      std::memset(header + 148, ' ', 8);
      unsigned checksum = 0;
      for (unsigned char c : header) checksum += c;
      std::snprintf(header + 148, 8, "%06o", checksum);  // six digits, a NUL, and the space left
      out.write_all(header, sizeof header);
      out.write_all(bytes.data(), bytes.size());
      out.write_all(padding.data(), (512 - bytes.size() % 512) % 512);
    }
    out.write_all(padding.data(), 512);  // the end-of-archive blocks
    out.write_all(padding.data(), 512);
  });
}

}  // namespace i2v
