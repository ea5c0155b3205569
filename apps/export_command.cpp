// `i2v export onnx`: a trained model as an ONNX file with its tag list, for ONNX Runtime and the
// tools built on it (the WD-tagger format: train/onnx_formats.h).
#include <algorithm>
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/model_options.h"
#include "train/onnx_formats.h"

namespace i2v::app {
namespace {

void add_export_command(CLI::App& app) {
  CLI::App* group = app.add_subcommand("export", "Write a trained model in other tools' formats");
  group->require_subcommand(1);

  static ModelOptions model;
  static std::string weights, output, format = "i2v";
  static bool force = false;
  CLI::App* cmd = group->add_subcommand("onnx", "The network, its weights and its preprocessing as an ONNX file "
                                                "(opset 17), its tag list beside it");
  cmd->add_option("--weights", weights, "The weights (i2v train's best.safetensors, or imported)")->required();
  model.add(cmd, /*required=*/false);
  cmd->add_option("--format", format, "i2v: -o is the .onnx file; wd: -o is a folder that gets model.onnx and "
                                      "selected_tags.csv, as the WD taggers ship")
      ->capture_default_str()->check(CLI::IsMember({"i2v", "wd"}));
  cmd->add_option("-o,--output", output, "The .onnx file (i2v) or the folder (wd)")->required();
  add_force_flag(cmd, force);
  cmd->footer(
      "--format i2v: input \"input\" float32 [batch, 3, S, S], RGB, values 0-255, the picture resized as\n"
      "the weights' preprocessing says (the mean, std and channel order are in the graph); output\n"
      "\"output\" is what `i2v forward` gives (a tagger's logits). model.tags.csv beside model.onnx\n"
      "names the outputs (index,name,category).\n"
      "--format wd: what kohya-ss's tag_images_by_wd14_tagger.py, the WebUI/ComfyUI WD14 extensions\n"
      "and imgutils load: input [batch, S, S, 3], BGR, 0-255, the picture padded to a white square;\n"
      "output: probabilities in the order of selected_tags.csv (tag_id,name,category,count): ratings\n"
      "(9), general (0), characters (4; copyright and artist tags too, the WD tools know only\n"
      "these three), count 0 (not recorded in the weights). kohya's script reads the first four\n"
      "outputs as the ratings: with another number of ratings (the legacy three: safe,\n"
      "questionable, explicit) it misplaces the tags; the export warns. The others read the CSV.\n"
      "Every layer type but the GCN head's exports. The batch dimension is free; S is the model's.\n\n"
      "Examples:\n"
      "  i2v export onnx --weights runs/tag/best.safetensors -o i2v-tag.onnx\n"
      "  i2v export onnx --weights runs/tag/best.safetensors --format wd -o wd-i2v-tag/\n"
      "  i2v export onnx --weights vgg19.safetensors --model vgg19 -o vgg19.onnx");
  cmd->callback([cmd] {
    const OnnxFormat chosen = format == "wd" ? OnnxFormat::wd : OnnxFormat::i2v;
    CommandFiles files;
    files.input("--weights", weights);
    add_model_input(files, "--model", cmd->count("--model") ? model.model : "");
    for (const std::string& file : onnx_export_files(output, chosen, /*named_outputs=*/true))
      files.output("-o", file, Existing::needs_force);
    files.check(force);
    TrainedModel trained = load_trained_model(weights, Device::cpu(), model.choice_for(*cmd, weights));
    for (const std::string& file : export_onnx(trained, output, chosen))
      std::printf("wrote %s\n", file.c_str());
    const auto ratings = std::count_if(trained.outputs.begin(), trained.outputs.end(),
                                       [](const ModelOutput& o) { return o.category == "rating"; });
    if (chosen == OnnxFormat::wd && ratings != 4)
      std::fprintf(stderr, "warning: the model has %d rating outputs; kohya-ss's tag_images_by_wd14_tagger.py reads "
                   "the first 4 outputs as ratings and would misplace the tags (the WD demo, the WebUI/ComfyUI "
                   "extensions and imgutils read the categories of selected_tags.csv)\n", int(ratings));
  });
}

const bool registered = register_command("export", add_export_command);

}  // namespace
}  // namespace i2v::app
