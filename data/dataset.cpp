#include "data/dataset.h"

#include <algorithm>
#include <filesystem>

#include "base/text.h"
#include "data/data_error.h"
#include "data/shards.h"

namespace i2v {

namespace fs = std::filesystem;

int64_t DatasetContents::count(Split split) const {
  return int64_t(std::count_if(items.begin(), items.end(), [&](const DatasetItem& item) { return item.split == split; }));
}

namespace {

std::string join_root(const std::string& root, const std::string& path) {
  if (root.empty() || (!path.empty() && path[0] == '/')) return path;
  return (fs::path(root) / path).string();
}

// A wrong image root is the most common mistake: say so at once rather than after an epoch of
// missing files.
void check_some_pictures_exist(const DatasetContents& contents) {
  const size_t probe = std::min<size_t>(contents.items.size(), 64);
  std::error_code error;
  for (size_t i = 0; i < probe; ++i)
    if (fs::exists(join_root(contents.root, contents.items[i].path), error)) return;
  I2V_THROW("none of the first {} pictures exists (e.g. {}): check the image root '{}' and the image layout", probe,
            join_root(contents.root, contents.items[0].path), contents.root);
}

// Why a dump gave no post: the counts and first lines of what was skipped (as `i2v data check`
// prints them), and the likely fix.
std::string no_usable_post(const DataReport& report, const Vocabulary& vocabulary, int64_t without_rating) {
  if (report.skipped() == 0) return "no post in the metadata: its files hold no lines";
  std::string text = "no usable post in the metadata; " + report.summary("metadata lines");
  const DataProblem problems[] = {DataProblem::malformed_json, DataProblem::unknown_rating,
                                  DataProblem::unknown_category};
  const DataProblem most = *std::max_element(std::begin(problems), std::end(problems), [&](DataProblem a, DataProblem b) {
    return report.skipped(a) < report.skipped(b);
  });
  std::string fix;
  if (most == DataProblem::unknown_rating && without_rating == report.skipped(DataProblem::unknown_rating))
    fix = "no line has a rating, but the vocabulary has rating outputs: use one without them (`i2v vocab build "
          "--no-ratings`, then --vocab or data.vocab)";
  else if (most == DataProblem::unknown_rating)
    fix = fmt::format("the ratings are not those of a {} dump: build the vocabulary with the dump's --rating-vintage "
                      "(legacy: s q e; 2022: g s q e)", rating_vintage_name(vocabulary.rating_vintage()));
  else if (most == DataProblem::malformed_json)
    fix = "the metadata must be JSON lines: one JSON object with an \"id\" per line (Danbooru's dumps, or "
          "`i2v data from-emoji`)";
  else
    fix = "tag categories must be 0 (general), 1 (artist), 3 (copyright), 4 (character) or 5 (meta)";
  return text + "likely fix: " + fix;
}

}  // namespace

DatasetContents read_danbooru(const DanbooruSource& source, const Vocabulary& vocabulary) {
  source.split.fractions.check();
  DatasetContents contents;
  contents.kind = TargetKind::multi_label;
  contents.split_rule = source.split.describe();
  contents.root = source.images;
  for (const VocabularyEntry& entry : vocabulary.entries()) {
    contents.class_names.push_back(entry.name);
    contents.class_categories.push_back(entry.category);
  }
  const ImageLayout layout = resolve_image_layout(source.layout, source.images);
  const bool has_ratings = vocabulary.count(TagCategory::rating) > 0;
  std::vector<int32_t> labels;
  int64_t without_rating = 0;  // of the posts that parsed
  for_each_post(
      metadata_files(source.metadata),
      [&](Post& post) {
        const std::optional<Split> split = source.split.split_of(post.id);
        if (!split) {
          ++contents.outside_splits;
          return;
        }
        without_rating += post.rating == 0;
        labels.clear();
        if (has_ratings) {
          const int64_t rating = vocabulary.rating_index(post.rating);
          if (rating < 0)
            I2V_DATA_ERROR(DataProblem::unknown_rating, "id {}: {} in a {} dump", post.id,
                           post.rating ? fmt::format("rating '{}' is not defined", post.rating) : "no rating",
                           rating_vintage_name(vocabulary.rating_vintage()));
          labels.push_back(int32_t(rating));
        }
        std::string path = post_image_path(post, layout);
        for (const Tag& tag : post.tags) {
          const int64_t index = vocabulary.index(tag.category, tag.name);
          if (index >= 0) labels.push_back(int32_t(index));
        }
        std::sort(labels.begin(), labels.end());
        labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
        contents.items.push_back({post.id, std::move(path), *split, int64_t(contents.labels.size()),
                                  int32_t(labels.size()), post.member_offset, post.member_size});
        contents.labels.insert(contents.labels.end(), labels.begin(), labels.end());
      },
      contents.report);
  I2V_CHECK(!contents.items.empty() || contents.outside_splits == 0,
            "the split ({}) places none of the {} posts read in a split", contents.split_rule, contents.outside_splits);
  if (contents.items.empty()) I2V_THROW("{}", no_usable_post(contents.report, vocabulary, without_rating));
  check_some_pictures_exist(contents);
  return contents;
}

DatasetContents read_image_folder(const ImageFolderSource& source) {
  std::error_code error;
  I2V_CHECK(fs::is_directory(source.root, error), "image folder {} does not exist", source.root);
  DatasetContents contents;
  contents.kind = TargetKind::class_index;
  contents.root = source.root;
  for (const auto& entry : fs::directory_iterator(source.root))
    if (entry.is_directory() && entry.path().filename().string()[0] != '.')
      contents.class_names.push_back(entry.path().filename().string());
  std::sort(contents.class_names.begin(), contents.class_names.end());
  I2V_CHECK(!contents.class_names.empty(), "image folder {} has no class subfolders (<root>/<class>/<picture>)",
            source.root);
  if (!source.classes.empty()) {
    for (const std::string& name : source.classes)
      I2V_CHECK(std::count(contents.class_names.begin(), contents.class_names.end(), name) == 1,
                "image folder {} has no class folder '{}'", source.root, name);
    std::vector<std::string> kept;
    for (const std::string& name : contents.class_names)
      if (std::count(source.classes.begin(), source.classes.end(), name)) kept.push_back(name);
    contents.class_names = kept;
  }
  std::vector<int64_t> classes;
  for (size_t c = 0; c < contents.class_names.size(); ++c) {
    std::vector<std::string> files;
    const fs::path class_dir = fs::path(source.root) / contents.class_names[c];
    for (auto it = fs::recursive_directory_iterator(class_dir); it != fs::recursive_directory_iterator(); ++it) {
      const std::string name = it->path().filename().string();
      if (name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      const std::string relative = fs::relative(it->path(), source.root).string();
      const std::string extension = it->path().extension().string();
      if (is_image_extension(extension))
        files.push_back(relative);
      else
        contents.report.add_skipped(DataProblem::unsupported_format, relative,
                                    fmt::format("extension '{}' is not an image (JPEG, PNG, GIF, BMP, WebP)", to_lower(extension)));
    }
    std::sort(files.begin(), files.end());
    for (std::string& file : files) {
      contents.items.push_back({int64_t(contents.items.size()), std::move(file), Split::train,
                                int64_t(contents.labels.size()), 1});
      contents.labels.push_back(int32_t(c));
      classes.push_back(int64_t(c));
    }
  }
  contents.report.add_read(int64_t(contents.items.size()));
  I2V_CHECK(!contents.items.empty(), "image folder {} has no pictures (.jpg, .jpeg, .png, .gif, .bmp)", source.root);
  const std::vector<Split> splits = stratified_split(classes, source.fractions, source.split_seed);
  for (size_t i = 0; i < splits.size(); ++i) contents.items[i].split = splits[i];
  return contents;
}

DatasetContents read_image_list(const std::vector<std::string>& paths, bool recursive) {
  DatasetContents contents;
  contents.kind = TargetKind::class_index;
  contents.class_names = {"unlabeled"};
  auto is_picture = [](const fs::path& path) { return is_image_extension(path.extension().string()); };
  auto add = [&](std::string path) {
    contents.items.push_back({int64_t(contents.items.size()), std::move(path), Split::train,
                              int64_t(contents.labels.size()), 1});
    contents.labels.push_back(0);
  };
  for (const std::string& path : paths) {
    std::error_code error;
    if (!fs::is_directory(path, error)) {
      add(path);  // a missing or bad file is reported when it is decoded
      continue;
    }
    std::vector<std::string> files;
    auto take = [&](const fs::directory_entry& entry) {
      if (entry.is_regular_file() && is_picture(entry.path()) && entry.path().filename().string()[0] != '.')
        files.push_back(entry.path().string());
    };
    if (recursive)
      for (const auto& entry : fs::recursive_directory_iterator(path)) take(entry);
    else
      for (const auto& entry : fs::directory_iterator(path)) take(entry);
    std::sort(files.begin(), files.end());
    I2V_CHECK(!files.empty(), "folder {} holds no pictures (.jpg, .jpeg, .png, .gif, .bmp){}", path,
              recursive ? "" : " (its subfolders were not searched: --recursive)");
    for (std::string& file : files) add(std::move(file));
  }
  I2V_CHECK(!contents.items.empty(), "no pictures given");
  contents.report.add_read(int64_t(contents.items.size()));
  return contents;
}

struct Dataset::CacheEntry {
  Image image;
  bool failed = false;
  DataProblem problem = DataProblem::corrupt_image;
  std::string message;
};

Dataset::Dataset(std::shared_ptr<const DatasetContents> contents, std::optional<Split> split, DatasetOptions options)
    : contents_(std::move(contents)), split_(split), options_(std::move(options)), views_(options_.preprocess.views()) {
  I2V_CHECK(contents_ != nullptr, "a dataset needs contents");
  options_.preprocess.check();
  I2V_CHECK(options_.max_pixels > 0, "max_pixels must be positive, not {}", options_.max_pixels);
  for (size_t i = 0; i < contents_->items.size(); ++i)
    if (!split || contents_->items[i].split == *split) pictures_.push_back(int64_t(i));
  I2V_CHECK(!pictures_.empty(), "the {} split of {} is empty ({} pictures in all)", split ? split_name(*split) : "whole",
            contents_->root, contents_->items.size());
  if (options_.cache) cache_.resize(pictures_.size());
  for (const auto& features : options_.auxiliary) {
    I2V_CHECK(features != nullptr, "a dataset's auxiliary features are missing");
    if (features->missing_as_zeros()) continue;
    std::vector<int64_t> missing;
    for (int64_t picture : pictures_)
      if (!features->has(contents_->items[size_t(picture)].id)) missing.push_back(contents_->items[size_t(picture)].id);
    if (missing.empty()) continue;
    std::string examples;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) examples += (i ? ", " : "") + std::to_string(missing[i]);
    I2V_THROW("auxiliary input '{}': {} of the {} pictures of the {} split have no row (post ids {}{}); give every post "
              "a row, or let missing ones be zeros (\"missing\": \"zeros\")", features->name(), missing.size(),
              pictures_.size(), split ? split_name(*split) : "whole", examples, missing.size() > 5 ? ", ..." : "");
  }
}

const DatasetItem& Dataset::item(int64_t index) const {
  I2V_CHECK(index >= 0 && index < size(), "sample {} is out of range (dataset of {})", index, size());
  return contents_->items[size_t(pictures_[size_t(index / views_)])];
}

std::string Dataset::path(int64_t index) const {
  const DatasetItem& it = item(index);
  const std::string file = join_root(contents_->root, it.path);
  return it.member_offset < 0 ? file : fmt::format("{}@{}", file, it.member_offset);
}

std::string Dataset::encoded_picture(int64_t index) const {
  const DatasetItem& it = item(index);
  const std::string file = join_root(contents_->root, it.path);
  return it.member_offset < 0 ? read_image_file(file) : read_shard_member(file, it.member_offset, it.member_size);
}

std::string Dataset::describe(int64_t index) const {
  const DatasetItem& it = item(index);
  return contents_->kind == TargetKind::multi_label ? fmt::format("id {} ({})", it.id, it.path) : it.path;
}

std::shared_ptr<const Dataset::CacheEntry> Dataset::cached_picture(int64_t picture) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_[size_t(picture)]) return cache_[size_t(picture)];
  }
  auto entry = std::make_shared<CacheEntry>();
  const std::string file = path(picture * views_);
  try {
    DecodeOptions decode;
    decode.max_pixels = options_.max_pixels;
    const std::string bytes = encoded_picture(picture * views_);
    entry->image = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), file, decode);
  } catch (const DataError& e) {
    entry->failed = true;
    entry->problem = e.problem();
    entry->message = e.message();
  }
  const int64_t bytes = int64_t(entry->image.rgb.size() + entry->message.size() + sizeof(CacheEntry));
  if (cache_held_.fetch_add(bytes) + bytes <= options_.cache_bytes) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    cache_[size_t(picture)] = entry;
  } else {
    cache_held_.fetch_sub(bytes);
  }
  return entry;
}

void Dataset::load(int64_t index, uint64_t augment_seed, float* chw) const {
  const Preprocess& pre = options_.preprocess;
  const int view = int(index % views_);
  Rng rng(augment_seed);
  std::shared_ptr<const CacheEntry> cached;
  Preprocess::DecodedView decoded;
  const Image* picture = nullptr;
  Box box;
  if (options_.cache) {
    cached = cached_picture(index / views_);
    if (cached->failed) throw DataError(__FILE__, __LINE__, cached->problem, cached->message);
    picture = &cached->image;
    box = pre.source_box(picture->width, picture->height, view, rng);
  } else {
    const std::string file = path(index);
    decoded = pre.decode_view(encoded_picture(index), file, options_.max_pixels, view, rng);
    picture = &decoded.picture;
    box = decoded.box;
  }
  const bool flip = pre.hflip && rng.coin();
  pre.view_to_chw(*picture, box, flip, chw);
}

void Dataset::target(int64_t index, float* out) const {
  I2V_CHECK(contents_->kind == TargetKind::multi_label, "target(): not a multi-label dataset (use class_index())");
  const DatasetItem& it = item(index);
  std::fill(out, out + num_classes(), 0.0f);
  for (int32_t k = 0; k < it.labels_count; ++k) out[contents_->labels[size_t(it.labels_begin + k)]] = 1.0f;
}

int64_t Dataset::class_index(int64_t index) const {
  I2V_CHECK(contents_->kind == TargetKind::class_index, "class_index(): not a single-label dataset (use target())");
  const DatasetItem& it = item(index);
  return contents_->labels[size_t(it.labels_begin)];
}

void Dataset::auxiliary(int64_t index, size_t which, float* out) const {
  options_.auxiliary.at(which)->fill(id(index), out);
}

Sample Dataset::get(int64_t index, uint64_t augment_seed) const {
  Sample sample;
  const int s = options_.preprocess.size;
  sample.image = Tensor::empty({3, s, s});
  load(index, augment_seed, sample.image.data<float>());
  if (contents_->kind == TargetKind::multi_label) {
    sample.target = Tensor::empty({num_classes()});
    target(index, sample.target.data<float>());
  } else {
    sample.target = Tensor::from_vector(std::vector<int64_t>{class_index(index)}, {1});
  }
  sample.id = id(index);
  sample.path = path(index);
  return sample;
}

}  // namespace i2v
