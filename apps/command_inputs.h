// What the commands read and write, for the one rule on outputs (base/command_files.h): the
// files and folders the shared options name, the files of a run directory, and --force.
//
//   CommandFiles files;
//   add_inputs(files, pictures);
//   files.input("--weights", weights).output("-o", output, Existing::needs_force);
//   files.check(force);  // before the work
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/data_options.h"
#include "base/command_files.h"
#include "index/code_store.h"

namespace i2v::app {

// Which files of an input folder a command reads: pictures; Danbooru-style metadata.
bool is_picture_file(const std::string& name);
bool is_metadata_file(const std::string& name);

// --force, for commands whose outputs are files i2v reads back (Existing::needs_force).
void add_force_flag(CLI::App* command, bool& force);

// The files of a dataset's options: the metadata (files, or the *.json/*.jsonl of folders), the
// pictures of the image root or image folder, the vocabulary.
void add_inputs(CommandFiles& files, const DataSourceOptions& source);
// --mean-file.
void add_inputs(CommandFiles& files, const PreprocessOptions& preprocess);
// The pictures given as arguments (files, or the pictures of folders) and the dataset.
void add_inputs(CommandFiles& files, const PictureOptions& pictures);
// A model option (--model) when it names a config file rather than a shipped model.
void add_model_input(CommandFiles& files, const std::string& option, const std::string& model);
// The files a training config names (train/training_config.h, for_each_config_path), "run" aside.
void add_config_inputs(CommandFiles& files, const nlohmann::json& config);
// A run directory and the files i2v train writes into it (config.json, metrics.jsonl, best.json,
// best.safetensors, final.safetensors; checkpoints/ is the trainer's own).
void add_run_outputs(CommandFiles& files, const std::string& option, const std::string& run);
// The pictures of `store` that a contact sheet at `sheet` could be: those with the sheet's file
// name, or every one when the sheet is a hard link (the rule stats only these).
void add_store_pictures(CommandFiles& files, const CodeStore& store, const std::string& image_root,
                        const std::string& sheet);

}  // namespace i2v::app
