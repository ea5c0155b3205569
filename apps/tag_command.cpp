// `i2v tag`: plausible tags of pictures with a trained tagger (the original release's
// estimate_plausible_tags), as JSON, or as a readable table on a terminal.
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/option_checks.h"
#include "base/error.h"
#include "base/atomic_file.h"
#include "data/dataset.h"
#include "train/tagging.h"
#include "data/vocabulary.h"

namespace i2v::app {
namespace {

void add_tag_command(CLI::App& app) {
  static PictureOptions pictures;
  static std::string weights, json_path, format = "auto";
  static float threshold = 0.25f;
  static int top = 0;
  CLI::App* cmd = app.add_subcommand("tag", "Tag pictures with a trained tagger (general, character, copyright, rating)");
  pictures.add(cmd);
  cmd->add_option("--weights", weights, "The tagger's weights (i2v train's best.safetensors, or imported)")->required();
  cmd->add_option("--threshold", threshold, "Keep general/character/copyright tags with at least this probability")
      ->capture_default_str()->check(in_range(0, 1));
  cmd->add_option("--top", top, "At most this many tags per category (0: all that pass the threshold)")
      ->capture_default_str()->check(at_least(0));
  cmd->add_option("--json", json_path, "Also write the JSON to this file");
  cmd->add_option("--format", format, "auto (a table on a terminal, JSON otherwise), table or json")->capture_default_str();
  cmd->footer(
      "For each picture: the general, character and copyright tags whose probability passes the\n"
      "threshold, most probable first, and every rating with its probability (never thresholded):\n"
      "  [{\"image\": \"a.png\", \"general\": [[\"smile\", 0.93], ...], \"character\": [...],\n"
      "    \"copyright\": [...], \"rating\": [[\"safe\", 0.98], ...]}, ...]\n"
      "Pictures of a dump (--metadata) also show their true tags (\"truth\" in the JSON).\n"
      "Pictures that cannot be decoded are skipped and reported.\n\n"
      "Examples:\n"
      "  i2v tag a.png b.jpg --weights runs/tag/best.safetensors\n"
      "  i2v tag pictures/ --weights runs/tag/best.safetensors --threshold 0.5 --top 5 --json tags.json");
  cmd->callback([] {
    CommandFiles files;
    add_inputs(files, pictures);
    files.input("--weights", weights).output("--json", json_path);
    files.check();
    const Device device = pictures.device.apply();
    TrainedModel tagger = load_trained_model(weights, device);
    I2V_CHECK(tagger.multi_label && !tagger.outputs.empty(),
              "{} is not a tagger (a multi-label model whose weights name their outputs)", weights);
    const auto dataset = pictures.open(tagger.preprocess);
    const bool labelled = dataset->target_kind() == TargetKind::multi_label;
    nlohmann::json all = nlohmann::json::array();
    std::string table;
    run_model(*tagger.model, dataset, device, "", pictures.batch, pictures.workers, [&](const Batch& batch, const Tensor& logits) {
      const std::vector<float> values = logits.to_vector<float>();
      const size_t outputs = tagger.outputs.size();
      for (int64_t i = 0; i < batch.size(); ++i) {
        const std::vector<float> probabilities = tag_probabilities(&values[size_t(i) * outputs], outputs);
        const PlausibleTags tags = estimate_plausible_tags(probabilities.data(), tagger.outputs, threshold, top);
        nlohmann::json entry = {{"image", batch.paths[size_t(i)]}};
        entry.update(to_json(tags));
        table += batch.paths[size_t(i)] + "\n" + to_text(tags);
        if (labelled) {
          const std::vector<std::string>& names = dataset->class_names();
          const float* target = batch.targets.data<float>() + i * int64_t(names.size());
          std::vector<std::string> truth;
          for (size_t k = 0; k < names.size(); ++k)
            if (target[k] > 0.5f) truth.push_back(names[k]);
          entry["truth"] = truth;
          std::vector<std::string> shown;
          for (const std::string& name : truth) shown.push_back(tag_display_name(name));
          table += fmt::format("  {:<10} {}\n", "truth", fmt::join(shown, ", "));
        }
        all.push_back(entry);
      }
    });
    if (!json_path.empty()) write_file_atomically(json_path, all.dump(2) + "\n");
    const bool as_table = format == "table" || (format == "auto" && isatty(STDOUT_FILENO));
    I2V_CHECK(format == "auto" || format == "table" || format == "json", "--format {}: auto, table or json", format);
    std::fputs(as_table ? table.c_str() : (all.dump(2) + "\n").c_str(), stdout);
  });
}

const bool registered = register_command("tag", add_tag_command);

}  // namespace
}  // namespace i2v::app
