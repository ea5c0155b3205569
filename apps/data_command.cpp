// `i2v data ...`: check a dump, convert the emoji packages into one, measure the mean, preview
// what the network will see.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/option_checks.h"
#include "apps/render.h"
#include "base/progress.h"
#include "base/atomic_file.h"
#include "data/channel_stats.h"
#include "data/data_loader.h"
#include "data/emoji.h"
#include "data/metadata.h"
#include "data/shards.h"

namespace i2v::app {
namespace {

void print_splits(const DatasetContents& contents) {
  std::printf("splits: train %s, val %s, test %s", format_count(contents.count(Split::train)).c_str(),
              format_count(contents.count(Split::val)).c_str(), format_count(contents.count(Split::test)).c_str());
  if (!contents.split_rule.empty()) std::printf(" (%s)", contents.split_rule.c_str());
  if (contents.outside_splits > 0)
    std::printf("; %s posts in no split left out", format_count(contents.outside_splits).c_str());
  std::printf("\n");
}

void print_label_stats(const DatasetContents& contents) {
  if (contents.kind == TargetKind::class_index) {
    std::vector<int64_t> per_class(contents.class_names.size(), 0);
    for (const DatasetItem& item : contents.items) ++per_class[size_t(contents.labels[size_t(item.labels_begin)])];
    std::printf("%zu classes:", contents.class_names.size());
    for (size_t c = 0; c < per_class.size(); ++c)
      std::printf("%s %s %s", c ? "," : "", contents.class_names[c].c_str(), format_count(per_class[c]).c_str());
    std::printf("\n");
    return;
  }
  int64_t without = 0;
  for (const DatasetItem& item : contents.items) without += item.labels_count <= 1;
  std::printf("labels: %.1f outputs per post on average; %s posts have no vocabulary tag besides the rating\n",
              double(contents.labels.size()) / double(contents.items.size()), format_count(without).c_str());
}

// Decodes every picture of `contents` (JPEGs at 1/8 scale: still every byte of their data) and
// returns what was skipped.
DataReport check_pictures(const std::shared_ptr<const DatasetContents>& contents, int64_t max_pixels, int workers) {
  DatasetOptions options;
  options.preprocess.size = 8;
  options.max_pixels = max_pixels;
  auto dataset = std::make_shared<const Dataset>(contents, std::nullopt, options);
  LoaderOptions loader_options;
  loader_options.batch_size = 64;
  loader_options.shuffle = false;
  loader_options.workers = workers;
  DataLoader loader(dataset, loader_options);
  Progress progress("decode", dataset->size(), "images");
  while (std::optional<Batch> batch = loader.next())
    progress.update(std::min(dataset->size(), (batch->batch + 1) * loader_options.batch_size));
  progress.update(dataset->size());
  progress.finish();
  return loader.last_epoch_report();
}

void add_check(CLI::App* data) {
  CLI::App* check = data->add_subcommand("check", "Validate a dump or image folder: read every line, decode every picture");
  static DataSourceOptions source;
  static int64_t max_pixels = kDefaultMaxPixels;
  static int workers = 2;
  static std::string json_path;
  static SkipReportOption report;
  source.add(check);
  check->add_option("--max-pixels", max_pixels, "Refuse pictures whose header claims more pixels")
      ->capture_default_str()->check(at_least(1));
  check->add_option("--workers", workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  check->add_option("--json", json_path, "Also write the report as JSON");
  report.add(check);
  check->footer(
      "Reads the metadata as training would (malformed lines, unknown ratings or categories are\n"
      "skipped and counted), then decodes every picture (JPEGs at 1/8 scale, which still reads all\n"
      "of their data) and reports missing, empty, truncated, corrupt, unsupported and oversized\n"
      "files: counts per reason and the first few with their id and reason. Fails when nothing is\n"
      "readable.\n\n"
      "Examples:\n"
      "  i2v data check --metadata emoji-dump/metadata.jsonl --images emoji-dump\n"
      "  i2v data check --metadata danbooru2020/metadata --images danbooru2020 --layout 512px --workers 8\n"
      "  i2v data check --folders artists/ --json check.json --report skipped.txt");
  static const auto work = [] {
    CommandFiles files;
    add_inputs(files, source);
    files.output("--json", json_path);
    files.output("--report", report.path);
    files.check();
    const std::shared_ptr<const DatasetContents> contents = source.read();
    std::fputs(contents->report.summary(source.folders.empty() ? "metadata lines" : "files").c_str(), stdout);
    print_splits(*contents);
    print_label_stats(*contents);
    const DataReport pictures = check_pictures(contents, max_pixels, workers);
    std::fputs(pictures.summary("pictures").c_str(), stdout);
    if (!json_path.empty()) {
      const nlohmann::json document = {
          {"metadata", contents->report.to_json()},
          {"pictures", pictures.to_json()},
          {"splits", {{"train", contents->count(Split::train)}, {"val", contents->count(Split::val)},
                      {"test", contents->count(Split::test)}, {"outside", contents->outside_splits},
                      {"rule", contents->split_rule}}}};
      write_file_atomically(json_path, document.dump(2) + "\n");
      std::printf("wrote %s\n", json_path.c_str());
    }
  };
  check->callback([] { report.run("i2v data check", work); });
}

void add_from_emoji(CLI::App* data) {
  CLI::App* convert = data->add_subcommand("from-emoji", "Make a Danbooru-style dump from the emoji-datasource npm packages");
  static EmojiOptions options;
  static std::string vendors = "twitter,google";
  convert->add_option("--packages", options.packages, "Folder with the packages (from scripts/fetch_emoji.sh)")->required();
  convert->add_option("--output,-o", options.output, "The dump's folder")->required();
  convert->add_option("--vendors", vendors, "Comma-separated: twitter, google, apple, facebook")->capture_default_str();
  convert->add_flag("--tag-strings", options.tag_strings,
                    "Write the newer tag_string_* form (rating g) instead of Danbooru2017's tag objects");
  static bool no_skin_tones = false;
  convert->add_flag("--no-skin-tones", no_skin_tones,
                    "Leave out the skin-tone variations (about half of the drawings: the same picture recoloured)");
  static bool force = false;
  add_force_flag(convert, force);
  convert->add_flag("--class-folders", options.class_folders,
                    "Also <output>/by_vendor/<vendor>/ (hard links): an image folder with the vendors as classes");
  convert->footer(
      "One post per vendor and emoji (skin-tone variations included): general tags = category,\n"
      "subcategory and the words of the names; character = the emoji's short name; copyright = the\n"
      "vendor; rating = safe. The same emoji drawn by two vendors shares its character tag, its\n"
      "\"emoji.unified\" code and id % 10000. Works offline from the .tgz files or extracted folders.\n"
      "Twitter (CC-BY 4.0) and Google (Apache 2.0) drawings are openly licensed; Apple's and\n"
      "Facebook's are not (research use only).\n\n"
      "Examples:\n"
      "  scripts/fetch_emoji.sh emoji-packages\n"
      "  i2v data from-emoji --packages emoji-packages -o emoji-dump\n"
      "  i2v data from-emoji --packages emoji-packages --vendors twitter,google,apple,facebook --class-folders -o emoji4");
  convert->callback([] {
    CommandFiles files;
    files.input("--packages", options.packages).output_folder("-o", options.output);
    files.output("-o", options.output + "/metadata.jsonl", Existing::needs_force);
    files.check(force);
    options.vendors.clear();
    size_t start = 0;
    while (start <= vendors.size()) {
      const size_t comma = std::min(vendors.find(',', start), vendors.size());
      if (comma > start) options.vendors.push_back(vendors.substr(start, comma - start));
      start = comma + 1;
    }
    options.skin_tones = !no_skin_tones;
    const EmojiSummary summary = convert_emoji(options);
    for (const EmojiVendorSummary& vendor : summary.vendors)
      std::printf("%-9s %s posts (%lld emoji not drawn) from %s\n", vendor.vendor.c_str(),
                  format_count(vendor.posts).c_str(), static_cast<long long>(vendor.missing), vendor.package.c_str());
    std::printf("wrote %s posts, %s distinct tags, %.1f MB of PNGs\n  metadata: %s\n  images:   %s/original/\n",
                format_count(summary.posts).c_str(), format_count(summary.tags).c_str(),
                double(summary.image_bytes) / 1e6, summary.metadata.c_str(), options.output.c_str());
  });
}

void add_mean(CLI::App* parent) {
  CLI::App* mean = parent->add_subcommand("mean", "Measure the per-channel mean and std of a split, for --mean-file");
  static DatasetSplitOptions data;
  static std::string output;
  static int workers = 2;
  static SkipReportOption report;
  data.add(mean);
  report.add(mean);
  static bool force = false;
  add_force_flag(mean, force);
  mean->add_option("--workers", workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  mean->add_option("--output,-o", output, "The JSON file to write")->required();
  mean->footer("Measured after the resize and crop of the preprocessing (centre crops, no flips), in RGB\n"
               "pixel values 0..255.\n\n"
               "Example:\n"
               "  i2v data mean --metadata emoji-dump/metadata.jsonl --images emoji-dump --size 64 -o mean.json\n"
               "  i2v data preview ... --mean-file mean.json");
  static const auto work = [] {
    CommandFiles files;
    add_inputs(files, data.source);
    add_inputs(files, data.preprocess);
    files.output("-o", output, Existing::needs_force);
    files.output("--report", report.path);
    files.check(force);
    const ChannelStats stats = compute_channel_stats(*data.open(), workers);
    stats.save(output);
    std::printf("%s pictures (%s split, %dx%d): mean R %.3f G %.3f B %.3f, std R %.3f G %.3f B %.3f\nwrote %s\n",
                format_count(stats.images).c_str(), data.split.c_str(), stats.size, stats.size, stats.mean[0],
                stats.mean[1], stats.mean[2], stats.std[0], stats.std[1], stats.std[2], output.c_str());
  };
  mean->callback([] { report.run("i2v data mean", work); });
}

// A network input back to RGB pixels.
Image input_to_image(const float* chw, const Preprocess& pre) {
  Image image;
  image.width = image.height = pre.size;
  image.rgb.resize(size_t(pre.size) * size_t(pre.size) * 3);
  const size_t plane = size_t(pre.size) * size_t(pre.size);
  for (int c = 0; c < 3; ++c) {
    const int rgb = pre.order == ChannelOrder::rgb ? c : 2 - c;
    for (size_t i = 0; i < plane; ++i) {
      const float pixel = (chw[size_t(c) * plane + i] * pre.std[size_t(c)] + pre.mean[size_t(c)]) / pre.scale;
      image.rgb[i * 3 + size_t(rgb)] = uint8_t(std::clamp(std::lround(pixel), 0L, 255L));
    }
  }
  return image;
}

void add_preview(CLI::App* parent) {
  CLI::App* preview = parent->add_subcommand("preview", "Save a contact sheet of network inputs, after preprocessing and augmentation");
  static DatasetSplitOptions data;
  static std::string output;
  static int count = 16;
  static uint64_t seed = 0;
  static int64_t epoch = 0;
  static SkipReportOption report;
  data.add(preview);
  report.add(preview);
  preview->add_option("--count", count, "Pictures on the sheet")->capture_default_str()->check(at_least(1));
  preview->add_option("--seed", seed, "Loader seed (shuffle and augmentation)")->capture_default_str();
  preview->add_option("--epoch", epoch, "Which epoch's first batch")->capture_default_str()->check(at_least(0));
  preview->add_option("--output,-o", output, "The PNG to write")->required();
  preview->footer("Shows the first batch of an epoch exactly as the DataLoader gives it (same seed, same\n"
                  "crops and flips), mapped back to pixels, and lists each sample's targets.\n\n"
                  "Examples:\n"
                  "  i2v data preview --metadata emoji-dump/metadata.jsonl --images emoji-dump --size 64 -o sheet.png\n"
                  "  i2v data preview --folders artists --crop quarters --size 128 -o quarters.png\n"
                  "  i2v data preview ... --preset i2v --crop random --hflip --seed 3 -o augmented.png");
  static const auto work = [] {
    CommandFiles files;
    add_inputs(files, data.source);
    add_inputs(files, data.preprocess);
    files.output("-o", output);
    files.output("--report", report.path);
    files.check();
    const std::shared_ptr<const Dataset> dataset = data.open();
    LoaderOptions loader_options;
    loader_options.batch_size = count;
    loader_options.seed = seed;
    loader_options.workers = 1;
    DataLoader loader(dataset, loader_options, {epoch, 0});
    const std::optional<Batch> batch = loader.next();
    I2V_CHECK(batch.has_value(), "nothing to show");
    const Preprocess& pre = dataset->preprocess();
    const int columns = int(std::ceil(std::sqrt(double(batch->size())))), gap = 2;
    const int rows = int((batch->size() + columns - 1) / columns), cell = pre.size + gap;
    const uint8_t white[3] = {255, 255, 255};
    Image sheet = blank(columns * cell + gap, rows * cell + gap, white);
    const size_t floats = size_t(3) * size_t(pre.size) * size_t(pre.size);
    for (int64_t i = 0; i < batch->size(); ++i) {
      const Image tile = input_to_image(batch->images.data<float>() + size_t(i) * floats, pre);
      const int x0 = gap + int(i % columns) * cell, y0 = gap + int(i / columns) * cell;
      for (int y = 0; y < pre.size; ++y)
        std::copy_n(tile.pixel(0, y), size_t(pre.size) * 3, sheet.pixel(x0, y0 + y));
      std::string targets;
      if (dataset->target_kind() == TargetKind::class_index) {
        targets = dataset->class_names()[size_t(batch->targets.data<int64_t>()[i])];
      } else {
        const float* row = batch->targets.data<float>() + size_t(i * dataset->num_classes());
        TagCategory category = TagCategory::general;
        for (int64_t c = 0; c < dataset->num_classes(); ++c) {
          if (row[c] == 0) continue;
          const TagCategory of = dataset->contents()->class_categories[size_t(c)];
          targets += targets.empty() || of != category ? fmt::format("{}{}: ", targets.empty() ? "" : "; ", tag_category_name(of)) : ", ";
          targets += tag_display_name(dataset->class_names()[size_t(c)]);
          category = of;
        }
      }
      std::printf("%2lld  %s: %s\n", static_cast<long long>(i), dataset->describe(batch->indices[size_t(i)]).c_str(),
                  targets.c_str());
    }
    save_png(output, sheet);
    std::printf("%s\nwrote %s (%dx%d)\n", pre.describe().c_str(), output.c_str(), sheet.width, sheet.height);
  };
  preview->callback([] { report.run("i2v data preview", work); });
}

// `i2v data pack`: a folder dump as WebDataset tar shards (<id>.<ext> + <id>.json per post).
void add_pack(CLI::App* data) {
  static std::vector<std::string> metadata;
  static std::string images, layout = "auto", output;
  static int per_shard = 1000;
  static bool force = false;
  CLI::App* pack = data->add_subcommand("pack", "Write a dump as WebDataset tar shards (to train from, or to test with)");
  pack->add_option("--metadata", metadata, "Danbooru-style JSON-lines metadata: files or folders of *.json/*.jsonl")->required();
  pack->add_option("--images", images, "The image root of the dump")->required();
  pack->add_option("--layout", layout, "Where a post's picture is: auto, original, 512px or path")->capture_default_str();
  pack->add_option("-o,--output", output, "The folder of shards to write (shard-000000.tar, ...)")->required();
  pack->add_option("--per-shard", per_shard, "Posts per shard")->capture_default_str()->check(at_least(1));
  add_force_flag(pack, force);
  pack->footer(
      "Each post becomes two members sharing its id as key: the picture's bytes as they are\n"
      "(<id>.jpg, .png, .webp, ...) and its metadata (<id>.json, one line in the API form). Posts\n"
      "whose line or picture cannot be read are skipped and counted. Train from the shards with\n"
      "--shards 'DIR/*.tar' or \"data\": {\"shards\": [\"DIR/*.tar\"]}.\n\n"
      "Example:\n"
      "  i2v data pack --metadata emoji-dump/metadata.jsonl --images emoji-dump -o emoji-shards");
  pack->callback([] {
    CommandFiles files;
    for (const std::string& m : metadata) files.input("--metadata", m, is_metadata_file);
    files.input("--images", images, is_picture_file).output("-o", output, Existing::needs_force);
    files.check(force);
    std::filesystem::create_directories(output);
    const ImageLayout resolved = resolve_image_layout(parse_image_layout(layout), images);
    DataReport report;
    std::vector<std::pair<std::string, std::string>> members;
    int shards = 0;
    int64_t posts = 0;
    const auto flush = [&] {
      if (members.empty()) return;
      write_tar_shard(fmt::format("{}/shard-{:06d}.tar", output, shards++), members);
      members.clear();
    };
    for_each_post(metadata_files(metadata), [&](Post& post) {
      const std::string file = (std::filesystem::path(images) / post_image_path(post, resolved)).string();
      std::string bytes = read_image_file(file);  // DataError: skipped and counted by for_each_post
      std::string extension = to_lower(std::filesystem::path(file).extension().string());
      post.path.clear();
      members.push_back({fmt::format("{}{}", post.id, extension), std::move(bytes)});
      members.push_back({fmt::format("{}.json", post.id), post_line(post, PostForm::tag_strings, {})});
      if (++posts % per_shard == 0) flush();
    }, report);
    flush();
    std::fputs(report.summary("posts").c_str(), stdout);
    std::printf("wrote %d shards of up to %d posts to %s\n", shards, per_shard, output.c_str());
    I2V_CHECK(posts > 0, "no post could be packed");
  });
}

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Datasets: check a dump, convert emoji packages, measure the mean, preview "
                                              "inputs, pack tar shards");
  data->require_subcommand(1);
  add_check(data);
  add_from_emoji(data);
  add_mean(data);
  add_preview(data);
  add_pack(data);
}

const bool registered = register_command("data", add_data_command);

}  // namespace
}  // namespace i2v::app
