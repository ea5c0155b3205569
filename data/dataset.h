// Datasets of pictures with targets, for training and evaluation.
//
// Two sources, read once into DatasetContents (shared by the splits):
//  - a Danbooru-style dump (data/metadata.h) and a vocabulary (data/vocabulary.h): multi-label,
//    the target of a post is a float vector over the vocabulary with 1 for each of its tags in
//    the vocabulary and for its rating class; split by a hash of the post id;
//  - an image folder, one subfolder per class (sorted names are the classes): single-label, the
//    target is the class index; split per class by a seeded shuffle.
// A Dataset is the samples of one split with a preprocessing (data/preprocess.h): sample i is
// decoded, cropped, resized, flipped and normalised on demand, the random choices drawn from a
// seed the caller gives (the DataLoader derives it from its seed, the epoch and i). Posts whose
// metadata is unusable are skipped when reading (DatasetContents::report); pictures that cannot
// be decoded throw DataError from load() (the DataLoader skips and counts them).
//
// Usage:
//   auto contents = std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
//   Dataset train(contents, Split::train, {Preprocess::i2v()});
//   std::vector<float> chw(3 * 224 * 224), target(train.num_classes());
//   train.load(0, /*augment_seed=*/7, chw.data());
//   train.target(0, target.data());
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nn/tensor.h"
#include "data/auxiliary_features.h"
#include "data/data_report.h"
#include "data/image.h"
#include "data/metadata.h"
#include "data/preprocess.h"
#include "data/split.h"
#include "data/vocabulary.h"

namespace i2v {

enum class TargetKind { multi_label, class_index };

struct DatasetItem {
  int64_t id;            // the post id; for image folders, the position in the sorted file list
  std::string path;      // relative to the root (or absolute)
  Split split;
  int64_t labels_begin;  // its labels: DatasetContents::labels[labels_begin, + labels_count)
  int32_t labels_count;
  int64_t member_offset = -1;  // in a tar shard (`path`): the picture's bytes [offset, offset + size)
  int64_t member_size = 0;
};

struct DatasetContents {
  TargetKind kind = TargetKind::multi_label;
  std::string root;
  std::vector<std::string> class_names;  // one per output: vocabulary tags, or class folders
  std::vector<TagCategory> class_categories;  // multi-label: the category of each output
  std::vector<DatasetItem> items;
  std::vector<int32_t> labels;  // multi-label: output indices; class_index: one class each
  DataReport report;            // what reading the metadata or folders skipped
  int64_t outside_splits = 0;   // posts the split rule placed in no split (data/split.h)
  std::string split_rule;       // how the posts were split, in words
  int64_t count(Split split) const;
};

struct DanbooruSource {
  std::vector<std::string> metadata;  // JSON-lines files or folders of them
  std::string images;                 // the image root
  ImageLayout layout = ImageLayout::automatic;  // `metadata` may also hold tar shards (data/shards.h)
  SplitRule split;  // posts it places in no split are left out (DatasetContents::outside_splits)
};

// Streams the metadata; keeps every post with an image path and a rating the vocabulary knows
// (when it has rating outputs). A post may carry no vocabulary tag (its target is then its rating
// alone). Throws when no post is left.
DatasetContents read_danbooru(const DanbooruSource& source, const Vocabulary& vocabulary);

struct ImageFolderSource {
  std::string root;  // <root>/<class>/**/<picture>.{jpg,jpeg,png,gif,bmp}
  SplitFractions fractions;
  uint64_t split_seed = 0;
  std::vector<std::string> classes;  // only these class folders (kept in sorted order); empty: all
};

// Lists the classes and pictures (hidden files skipped; other extensions counted as unsupported).
DatasetContents read_image_folder(const ImageFolderSource& source);

// Pictures to run a model on, without labels: files, and folders searched for pictures (at any
// depth, or only at the top with recursive = false), in the order given (a folder's pictures
// sorted). The single class is "unlabeled";
// ids are positions in the list. Paths are kept as given.
DatasetContents read_image_list(const std::vector<std::string>& paths, bool recursive = true);

struct DatasetOptions {
  Preprocess preprocess;
  int64_t max_pixels = kDefaultMaxPixels;
  // Keep every decoded picture in memory (at full size), so later epochs skip reading and
  // decoding: for small datasets such as thousands of 64×64 emoji. Stops adding pictures once
  // cache_bytes are held.
  bool cache = false;
  int64_t cache_bytes = int64_t(2) << 30;
  // Per-picture vectors keyed by post id, given with each batch as the model's auxiliary inputs
  // of the same names (data/auxiliary_features.h). Every picture of the split must have a row,
  // unless the features allow missing ones.
  std::vector<std::shared_ptr<const AuxiliaryFeatures>> auxiliary;
};

// One sample as tensors (for inspection and tests; the DataLoader fills batches directly).
struct Sample {
  Tensor image;   // [3, size, size] f32
  Tensor target;  // [num_classes] f32 (multi-label) or [1] i64 (class index)
  int64_t id = 0;
  std::string path;
};

class Dataset {
 public:
  // The samples of `split` (all items when nullopt). Throws when there are none.
  Dataset(std::shared_ptr<const DatasetContents> contents, std::optional<Split> split, DatasetOptions options = {});
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  // Samples: pictures × preprocess().views() (4 with crop quarters).
  int64_t size() const { return int64_t(pictures_.size()) * views_; }
  int64_t pictures() const { return int64_t(pictures_.size()); }
  TargetKind target_kind() const { return contents_->kind; }
  int64_t num_classes() const { return int64_t(contents_->class_names.size()); }
  const std::vector<std::string>& class_names() const { return contents_->class_names; }
  const Preprocess& preprocess() const { return options_.preprocess; }
  const DatasetOptions& options() const { return options_; }
  const std::shared_ptr<const DatasetContents>& contents() const { return contents_; }
  const std::optional<Split>& split() const { return split_; }

  // The picture behind sample `index`.
  const DatasetItem& item(int64_t index) const;
  int64_t id(int64_t index) const { return item(index).id; }
  // The file: root/path (or path itself when absolute); a shard's picture: "shard.tar@offset".
  std::string path(int64_t index) const;
  // "id 2921 (original/0921/2921.jpg)", for reports.
  std::string describe(int64_t index) const;

  // Decodes and preprocesses sample `index` into `chw` (3 × size × size floats). Random crops and
  // flips draw from `augment_seed` only. Throws DataError when the picture cannot be used.
  void load(int64_t index, uint64_t augment_seed, float* chw) const;
  // Multi-label: writes num_classes() floats, 1 for each label of the sample, else 0.
  void target(int64_t index, float* out) const;
  // Single-label: the class index of the sample.
  int64_t class_index(int64_t index) const;
  // Writes the vector of sample `index` from options().auxiliary[which] (its dim() floats).
  void auxiliary(int64_t index, size_t which, float* out) const;

  Sample get(int64_t index, uint64_t augment_seed = 0) const;

 private:
  struct CacheEntry;
  // The picture's encoded bytes: its file, or its member of a tar shard.
  std::string encoded_picture(int64_t index) const;
  std::shared_ptr<const CacheEntry> cached_picture(int64_t picture) const;

  std::shared_ptr<const DatasetContents> contents_;
  std::optional<Split> split_;
  DatasetOptions options_;
  std::vector<int64_t> pictures_;  // item indices of the split
  int views_ = 1;

  mutable std::mutex cache_mutex_;
  mutable std::vector<std::shared_ptr<const CacheEntry>> cache_;
  mutable std::atomic<int64_t> cache_held_{0};
};

}  // namespace i2v
