#include "apps/data_options.h"

#include <cstdio>

#include "apps/option_checks.h"
#include "base/atomic_file.h"
#include "base/text.h"
#include "data/channel_stats.h"
#include "data/shards.h"
#include "data/split.h"

namespace i2v::app {

void DataSourceOptions::add(CLI::App* command) {
  command->add_option("--metadata", metadata, "Danbooru-style JSON-lines metadata: files or folders of *.json/*.jsonl");
  command->add_option("--shards", shards,
                      "WebDataset tar shards of a dump, e.g. 'dumps/*.tar' (<key>.webp|jpg|png + <key>.json|txt): "
                      "read in place, never extracted");
  command->add_option("--images", images, "The image root of the dump");
  command->add_option("--layout", layout, "Where a post's picture is: auto, original, 512px or path")
      ->capture_default_str();
  command->add_option("--vocab", vocab, "Vocabulary (from `i2v vocab build`); default: built in memory");
  command->add_option("--rating-vintage", rating_vintage,
                      "Without --vocab: auto (2022 when any post is rated g), legacy (s q e) or 2022 (g s q e)")
      ->capture_default_str();
  command->add_option("--folders", folders, "An image folder instead: <DIR>/<class>/<picture> (single-label)");
  command->add_option("--split-fractions", fractions, "Train, val, test fractions")->capture_default_str();
  command->add_option("--split-seed", split_seed, "Salt of the id hash (dumps) / seed of the shuffle (folders)")
      ->capture_default_str();
  command->add_option("--split-modulo", split_modulo,
                      "Dumps: split by id ranges modulo N instead of the hash, e.g. 1000:train=0-899,val=950-999 "
                      "(posts in no range are left out)");
  command->add_option("--split-files", split_files,
                      "Dumps: split by files of ids instead, TRAIN,VAL,TEST (one id per line; a split may be left "
                      "empty: train.txt,val.txt,)");
}

std::shared_ptr<const DatasetContents> DataSourceOptions::read() const {
  const SplitFractions split = parse_split_fractions(fractions);
  if (!folders.empty()) {
    I2V_CHECK(metadata.empty(), "give either --folders or --metadata/--images, not both");
    I2V_CHECK(split_modulo.empty() && split_files.empty(), "--split-modulo and --split-files split dumps by post id, "
              "not image folders");
    ImageFolderSource source;
    source.root = folders;
    source.fractions = split;
    source.split_seed = split_seed;
    return std::make_shared<const DatasetContents>(read_image_folder(source));
  }
  I2V_CHECK((!metadata.empty() && !images.empty()) || !shards.empty(),
            "give --metadata and --images (a dump), --shards (a dump in tar shards), or --folders");
  std::vector<std::string> sources = metadata;  // shards are read as metadata: their posts carry their pictures
  for (const std::string& shard : shard_files(shards)) sources.push_back(shard);
  Vocabulary vocabulary;
  if (vocab.empty()) {
    DataReport report;
    VocabularyOptions options;
    options.vintage = parse_rating_vintage(rating_vintage);
    vocabulary = build_vocabulary(sources, options, report);
    std::fprintf(stderr, "vocabulary: built in memory, %lld outputs (ratings: %s dump)\n",
                 static_cast<long long>(vocabulary.size()), rating_vintage_name(vocabulary.rating_vintage()));
  } else {
    vocabulary = Vocabulary::load(vocab);
  }
  DanbooruSource source;
  source.metadata = sources;
  source.images = images;
  source.layout = parse_image_layout(layout);
  source.split.fractions = split;
  source.split.salt = split_seed;
  I2V_CHECK(split_modulo.empty() || split_files.empty(), "give --split-modulo or --split-files, not both");
  if (!split_modulo.empty()) source.split = split_rule_by_modulo(split_modulo);
  if (!split_files.empty()) {
    const size_t first = split_files.find(','), second = split_files.find(',', first + 1);
    I2V_CHECK(first != std::string::npos && second != std::string::npos &&
                  split_files.find(',', second + 1) == std::string::npos,
              "--split-files {}: TRAIN,VAL,TEST (three names, any of them empty)", split_files);
    source.split = split_rule_by_files({split_files.substr(0, first), split_files.substr(first + 1, second - first - 1),
                                        split_files.substr(second + 1)});
  }
  return std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
}

void PreprocessOptions::add(CLI::App* command) {
  command->add_option("--preset", preset, "Preprocessing preset: unit ([0,1] RGB), i2v (BGR minus the i2v mean), imagenet")
      ->capture_default_str();
  command->add_option("--size", size, "Output side (default: the preset's, 224)")->check(at_least(1));
  command->add_option("--resize", resize, "direct (squash to SIZExSIZE) or shorter_side (then crop)");
  command->add_option("--resize-to", resize_to, "shorter_side: the shorter side before the crop (default SIZE)")
      ->check(at_least(0));
  command->add_option("--crop", crop, "center, random or quarters (each picture gives its four quarters)");
  command->add_option("--min-area", min_area, "direct + random crop: smallest fraction of the picture kept (0.5)")
      ->check(above(0))->check(in_range(0, 1));
  command->add_flag("--hflip", hflip, "Random horizontal flips");
  command->add_option("--order", order, "Channel order: rgb or bgr");
  command->add_option("--scale", scale, "Pixel values (0..255) are multiplied by this")->check(above(0));
  command->add_option("--mean", mean, "Per-channel mean to subtract (3 values, output channel order, scaled units)")
      ->expected(3)->check(finite_number());
  command->add_option("--std", std, "Per-channel std to divide by (3 values)")->expected(3)->check(above(0));
  command->add_option("--mean-file", mean_file, "Use the mean measured by `i2v data mean`");
  command->add_flag("--mean-file-std", mean_file_std, "With --mean-file: also divide by its std");
}

Preprocess PreprocessOptions::build() const {
  Preprocess p = Preprocess::preset(preset);
  if (size > 0) p.size = size;
  if (!resize.empty()) p.resize = parse_resize_mode(resize);
  if (resize_to >= 0) p.resize_to = resize_to;
  if (!crop.empty()) p.crop = parse_crop_mode(crop);
  if (min_area > 0) p.min_area = min_area;
  if (hflip) p.hflip = true;
  if (!order.empty()) p.order = parse_channel_order(order);
  if (scale != 0) p.scale = scale;
  if (!mean.empty()) std::copy(mean.begin(), mean.end(), p.mean.begin());
  if (!std.empty()) std::copy(std.begin(), std.end(), p.std.begin());
  if (!mean_file.empty()) p.use_stats(ChannelStats::load(mean_file), mean_file_std);
  p.check();
  return p;
}

void DatasetSplitOptions::add(CLI::App* command) {
  source.add(command);
  preprocess.add(command);
  command->add_option("--split", split, "train, val or test")->capture_default_str();
}

std::shared_ptr<const Dataset> DatasetSplitOptions::open() const {
  DatasetOptions options;
  options.preprocess = preprocess.build();
  return std::make_shared<const Dataset>(source.read(), parse_split(split), options);
}

void SkipReportOption::add(CLI::App* command) {
  command->add_option("--report", path, "Write every skipped metadata line and picture here, with the reason "
                                        "(the summary lists the first 5)");
}

void SkipReportOption::run(const std::string& about, const std::function<void()>& work) const {
  if (path.empty()) return work();
  record_every_skipped();
  auto write = [&] {
    write_file_atomically(path, every_skipped_listing(about));
    std::fprintf(stderr, "wrote %s: %s skipped\n", path.c_str(), format_count(int64_t(every_skipped().size())).c_str());
  };
  try {
    work();
  } catch (...) {
    write();
    throw;
  }
  write();
}

void PictureOptions::add(CLI::App* command) {
  command->add_option("pictures", pictures, "Picture files and folders (searched recursively)");
  source.add(command);
  command->add_option("--split", split, "With a dataset: train, val, test or all")->capture_default_str();
  command->add_option("--limit", limit, "Only the first N pictures (0: all)")
      ->capture_default_str()->check(at_least(0));
  command->add_option("--batch", batch, "Pictures per batch")->capture_default_str()->check(at_least(1));
  command->add_option("--workers", workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  device.add(command);
}

std::shared_ptr<const Dataset> PictureOptions::open(const Preprocess& preprocess) const {
  const bool dataset = !source.metadata.empty() || !source.folders.empty();
  I2V_CHECK(dataset != !pictures.empty(), "give pictures (files or folders), or a dataset (--metadata/--images or "
            "--folders), not both");
  DatasetOptions options;
  options.preprocess = preprocess;
  auto contents = std::make_shared<DatasetContents>(dataset ? *source.read() : read_image_list(pictures));
  const std::optional<Split> chosen = split == "all" ? std::nullopt : std::optional<Split>(parse_split(split));
  if (limit > 0) {
    std::vector<DatasetItem> kept;
    for (const DatasetItem& item : contents->items)
      if ((!chosen || item.split == *chosen) && int64_t(kept.size()) < limit) kept.push_back(item);
    contents->items = std::move(kept);
  }
  return std::make_shared<const Dataset>(std::move(contents), chosen, options);
}

}  // namespace i2v::app
