#include "apps/command_inputs.h"

#include "data/shards.h"

#include <sys/stat.h>

#include <filesystem>

#include "apps/results.h"
#include "data/image.h"
#include "nn/model_config.h"
#include "train/training_config.h"

namespace i2v::app {

namespace fs = std::filesystem;

bool is_picture_file(const std::string& name) { return is_image_extension(fs::path(name).extension().string()); }

bool is_metadata_file(const std::string& name) {
  const std::string extension = fs::path(name).extension().string();
  return extension == ".json" || extension == ".jsonl";
}

void add_force_flag(CLI::App* command, bool& force) {
  command->add_flag("--force", force,
                    "Replace the output file when it exists (never a file this command reads, a link or a device)");
}

void add_inputs(CommandFiles& files, const DataSourceOptions& source) {
  for (const std::string& metadata : source.metadata) files.input("--metadata", metadata, is_metadata_file);
  for (const std::string& shard : shard_files(source.shards)) files.input("--shards", shard);
  files.input("--images", source.images, is_picture_file);
  files.input("--vocab", source.vocab);
  files.input("--folders", source.folders, is_picture_file);
}

void add_inputs(CommandFiles& files, const PreprocessOptions& preprocess) {
  files.input("--mean-file", preprocess.mean_file);
}

void add_inputs(CommandFiles& files, const PictureOptions& pictures) {
  for (const std::string& picture : pictures.pictures) files.input("the picture", picture, is_picture_file);
  add_inputs(files, pictures.source);
}

void add_model_input(CommandFiles& files, const std::string& option, const std::string& model) {
  if (names_model_file(model)) files.input(option, model);
}

void add_config_inputs(CommandFiles& files, const nlohmann::json& config) {
  nlohmann::json copy = config;
  for_each_config_path(copy, [&](nlohmann::json& path, const std::string& field) {
    if (field == "run") return;
    const bool pictures = field == "data.images" || field == "data.folders";
    files.input("config field " + field, path.get<std::string>(),
                pictures ? is_picture_file : field == "data.metadata" ? is_metadata_file : nullptr);
  });
}

void add_run_outputs(CommandFiles& files, const std::string& option, const std::string& run) {
  files.output_folder(option, run);
  for (const char* name : {"config.json", "metrics.jsonl", "best.json", "best.safetensors", "final.safetensors"})
    files.output(option, (fs::path(run) / name).string());
}

void add_store_pictures(CommandFiles& files, const CodeStore& store, const std::string& image_root,
                        const std::string& sheet) {
  struct stat status {};
  if (sheet.empty() || !store.has_paths() || ::lstat(sheet.c_str(), &status) != 0) return;
  const std::string name = fs::path(sheet).filename().string();
  for (int64_t row = 0; row < store.size(); ++row) {
    const std::string picture = picture_file(store, row, image_root);
    if (status.st_nlink > 1 || fs::path(picture).filename() == name) files.input("a picture of the store", picture);
  }
}

}  // namespace i2v::app
