// `i2v caption`: the captions of a training set, one `<picture>.txt` of comma-separated tags
// beside each picture, as kohya-ss's sd-scripts and the WD14 taggers write them
// (train/captions.h decides what a caption holds).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "base/file.h"
#include "data/dataset.h"
#include "train/captions.h"
#include "train/tagging.h"

namespace i2v::app {
namespace {

namespace fs = std::filesystem;

// "a, b" or "@file" (tags separated by commas or lines) into its tags.
std::vector<std::string> tag_list(const std::string& option, const std::string& value) {
  if (value.empty() || value[0] != '@') return split_caption(value);
  std::string text = File::open_for_reading(value.substr(1)).read_all();
  std::replace(text.begin(), text.end(), '\n', ',');
  const std::vector<std::string> tags = split_caption(text);
  I2V_CHECK(!tags.empty(), "{} {}: the file holds no tags", option, value);
  return tags;
}

// Where a picture's caption goes: its path with the extension replaced (a.png -> a.txt).
std::string caption_path(const std::string& picture, const std::string& extension) {
  return fs::path(picture).replace_extension(extension).string();
}

void add_caption_command(CLI::App& app) {
  static std::vector<std::string> folders;
  static std::string weights, extension = ".txt", exclude, keep_first, scores_path;
  static bool recursive = false, append = false;
  static float threshold = -1;
  static CaptionOptions options;
  static int64_t batch = 32;
  static int workers = 2;
  static DeviceOptions device;
  CLI::App* cmd = app.add_subcommand("caption", "Write a caption file of tags beside every picture of a folder "
                                                "(training sets for kohya-ss, the WD14 tools)");
  cmd->add_option("folders", folders, "Folders of pictures (or picture files)")->required();
  cmd->add_option("--weights", weights, "The tagger's weights (i2v train's best.safetensors, or imported)")->required();
  cmd->add_flag("--recursive", recursive, "Also the pictures in subfolders, at any depth");
  cmd->add_option("--caption-extension", extension, "The caption file's extension")->capture_default_str();
  cmd->add_option("--separator", options.separator, "Between the tags of a caption")->capture_default_str();
  cmd->add_option("--threshold", threshold, "The threshold of both categories (sets the two below)")
      ->check(in_range(0, 1));
  cmd->add_option("--general-threshold", options.general_threshold, "Keep general tags with at least this probability")
      ->capture_default_str()->check(in_range(0, 1));
  cmd->add_option("--character-threshold", options.character_threshold,
                  "Keep character and copyright tags with at least this probability")
      ->capture_default_str()->check(in_range(0, 1));
  cmd->add_flag("--mcut", options.mcut,
                "Thresholds found per picture and category by MCut (the middle of the largest gap between "
                "sorted probabilities; characters at least 0.15) instead of the two above");
  cmd->add_option("--top-k", options.top_k, "At most this many tags per caption, the most probable (0: no cap)")
      ->capture_default_str()->check(at_least(0));
  cmd->add_option("--exclude", exclude, "Tags never written: \"tag1, tag2\" or @file (tags by commas or lines)");
  cmd->add_option("--keep-first", keep_first, "Tags moved to the front, in this order, when they are chosen "
                                              "(\"tag1, tag2\" or @file)");
  cmd->add_flag("--replace-underscores", options.replace_underscores,
                "Write tags with spaces (long_hair -> long hair); kaomoji such as ^_^ keep theirs");
  cmd->add_flag("--character-first", options.character_first, "Character and copyright tags before the general ones");
  cmd->add_flag("--rating", options.rating, "Start with the most likely rating (safe, questionable, explicit)");
  cmd->add_flag("--append", append, "Add the new tags to an existing caption file (those it lacks) instead of "
                                    "replacing it");
  cmd->add_option("--scores", scores_path, "Also write every picture's probabilities (those >= 0.01) as JSON lines "
                                           "to this file");
  cmd->add_option("--batch", batch, "Pictures per batch")->capture_default_str()->check(at_least(1));
  cmd->add_option("--workers", workers, "Decoding threads")->capture_default_str()->check(at_least(0));
  device.add(cmd);
  cmd->footer(
      "Each picture gets <picture>.txt (a.png -> a.txt) holding one line of tags:\n"
      "  [rating, ] character and copyright tags, general tags   (or general first: the default)\n"
      "each category most probable first, thresholds per category (or per picture with --mcut),\n"
      "--exclude applied, --keep-first tags moved to the front, at most --top-k tags. A picture gets\n"
      "the same caption whether it is tagged alone or in a batch. Pictures that cannot be decoded\n"
      "are skipped, counted and named; their caption files are left as they are. The caption files\n"
      "are written atomically, one per picture as its batch finishes, so an interrupted run keeps\n"
      "what it has written.\n\n"
      "Examples:\n"
      "  i2v caption dataset/ --weights runs/tag/best.safetensors --recursive\n"
      "  i2v caption dataset/ --weights best.safetensors --general-threshold 0.35 --character-threshold 0.85 \\\n"
      "      --replace-underscores --character-first --exclude @banned.txt --keep-first \"1girl, solo\"\n"
      "  i2v caption dataset/ --weights best.safetensors --mcut --top-k 30 --rating --device cuda --batch 64\n"
      "  i2v caption dataset/ --weights best.safetensors --append --caption-extension .caption --scores s.jsonl");
  cmd->callback([] {
    if (threshold >= 0) options.general_threshold = options.character_threshold = threshold;
    I2V_CHECK(!extension.empty() && extension[0] == '.' && extension.find('/') == std::string::npos,
              "--caption-extension {}: an extension starting with '.', such as .txt", extension);
    I2V_CHECK(!is_picture_file("caption" + extension), "--caption-extension {}: that is a picture's extension; the "
              "captions would replace the pictures", extension);
    options.exclude.clear();
    for (const std::string& tag : tag_list("--exclude", exclude)) options.exclude.insert(normalised_tag(tag));
    options.keep_first = tag_list("--keep-first", keep_first);

    auto contents = std::make_shared<DatasetContents>(read_image_list(folders, recursive));
    // Every caption file is an output of its own: a link, a folder or a device in its place is
    // refused before anything is written.
    CommandFiles files;
    for (const std::string& folder : folders) files.input("folders", folder, is_picture_file);
    files.input("--weights", weights).input("--exclude", exclude.rfind('@', 0) == 0 ? exclude.substr(1) : "");
    files.input("--keep-first", keep_first.rfind('@', 0) == 0 ? keep_first.substr(1) : "");
    for (const DatasetItem& item : contents->items) files.output("caption", caption_path(item.path, extension));
    files.output("--scores", scores_path);
    files.check();

    const Device chosen = device.apply();
    TrainedModel tagger = load_trained_model(weights, chosen);
    I2V_CHECK(tagger.multi_label && !tagger.outputs.empty(),
              "{} is not a tagger (a multi-label model whose weights name their outputs)", weights);
    DatasetOptions dataset_options;
    dataset_options.preprocess = tagger.preprocess;
    const int64_t pictures = int64_t(contents->items.size());
    const auto dataset = std::make_shared<const Dataset>(contents, std::nullopt, dataset_options);

    int64_t written = 0, appended = 0;
    auto caption_all = [&](File* scores) {
      run_model(*tagger.model, dataset, chosen, "", batch, workers, [&](const Batch& batch, const Tensor& logits) {
        const std::vector<float> values = logits.to_vector<float>();
        const size_t outputs = tagger.outputs.size();
        for (int64_t i = 0; i < batch.size(); ++i) {
          const std::string& picture = batch.paths[size_t(i)];
          const std::vector<float> probabilities = tag_probabilities(&values[size_t(i) * outputs], outputs);
          std::vector<std::string> tags = caption_tags(probabilities.data(), tagger.outputs, options);
          const std::string path = caption_path(picture, extension);
          if (append && fs::exists(path)) {
            tags = merge_captions(split_caption(File::open_for_reading(path).read_all()), tags);
            ++appended;
          }
          const std::string line = fmt::format("{}", fmt::join(tags, options.separator));
          write_file_atomically(path, line + "\n");
          ++written;
          if (scores) {
            nlohmann::json entry = {{"image", picture}, {"caption", line}};
            entry.update(to_json(estimate_plausible_tags(probabilities.data(), tagger.outputs, 0.01f)));
            const std::string text = entry.dump() + "\n";
            scores->write_all(text.data(), text.size());
          }
        }
      }, "caption");
    };
    if (scores_path.empty())
      caption_all(nullptr);
    else
      write_file_atomically(scores_path, [&](File& file) { caption_all(&file); });
    std::printf("captioned %lld of %lld pictures (%lld added to existing captions), %lld skipped; caption files: "
                "<picture>%s\n",
                (long long)written, (long long)pictures, (long long)appended, (long long)(pictures - written),
                extension.c_str());
  });
}

const bool registered = register_command("caption", add_caption_command);

}  // namespace
}  // namespace i2v::app
