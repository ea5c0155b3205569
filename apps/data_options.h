// Command-line options shared by the data tools (i2v data ..., i2v vocab ...): where a dataset
// is and how its pictures are preprocessed.
#pragma once

#include "apps/device_options.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "data/dataset.h"
#include "data/metadata.h"
#include "data/preprocess.h"
#include "data/vocabulary.h"

namespace i2v::app {

// --metadata/--images/--layout/--vocab (a Danbooru-style dump) or --folders (an image folder),
// and the split.
struct DataSourceOptions {
  std::vector<std::string> metadata;
  std::vector<std::string> shards;  // WebDataset tar shards (glob patterns), read as metadata
  std::string images;
  std::string layout = "auto";
  std::string vocab;  // empty: a vocabulary with the default sizes is built in memory
  std::string rating_vintage = "auto";  // for that in-memory vocabulary
  std::string folders;
  std::string fractions = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  std::string split_modulo, split_files;

  void add(CLI::App* command);
  // Reads the metadata (or lists the folders), printing what it does to stderr.
  std::shared_ptr<const DatasetContents> read() const;
};

// --preset/--size/--resize/--crop/... -> Preprocess.
struct PreprocessOptions {
  std::string preset = "unit";
  int size = 0;  // 0: the preset's
  std::string resize, crop, order;
  int resize_to = -1;
  double min_area = 0;
  bool hflip = false;
  float scale = 0;
  std::vector<float> mean, std;
  std::string mean_file;
  bool mean_file_std = false;

  void add(CLI::App* command);
  Preprocess build() const;
};

// One split of a dataset with its preprocessing: the options of both, and --split.
struct DatasetSplitOptions {
  DataSourceOptions source;
  PreprocessOptions preprocess;
  std::string split = "train";

  void add(CLI::App* command);
  std::shared_ptr<const Dataset> open() const;
};

// --report FILE: every sample the command skips — metadata lines and pictures, each with its
// problem and reason — where the summaries print the first 5. Written at the command's end, also
// when it fails (when every line was skipped, say).
struct SkipReportOption {
  std::string path;

  void add(CLI::App* command);
  // Runs `work`, recording every skip when --report was given, then writes the file (`about`
  // heads it), also when `work` throws.
  void run(const std::string& about, const std::function<void()>& work) const;
};

// The pictures a model runs on (i2v tag, hash, ...): files and folders given as arguments, or a
// dataset (--metadata/--images or --folders) and one of its splits ("all" for every picture).
struct PictureOptions {
  std::vector<std::string> pictures;
  DataSourceOptions source;
  std::string split = "all";
  int64_t limit = 0;  // the first `limit` pictures only (0: all)
  int64_t batch = 32;
  int workers = 2;
  DeviceOptions device;

  void add(CLI::App* command);
  // The pictures, preprocessed as `preprocess` says.
  std::shared_ptr<const Dataset> open(const Preprocess& preprocess) const;
};

}  // namespace i2v::app
