// A training config (train/training_config.h): the JSON read field by field, then everything
// prepare_training builds from it — the data, the model, its initial weights, the loss, the
// optimizer and the schedule — over a small dump and image folder made once in a scratch
// directory, without training. Every refusal must be an i2v::Error naming the field; nothing
// else may escape.
#include <unistd.h>

#include <filesystem>

#include "data/image.h"
#include "data/metadata.h"
#include "fuzz/fuzz_input.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "train/training_config.h"
#include "train/training_config_fields.h"

namespace {

using namespace i2v;
using nlohmann::json;

// The files the seed configs name (fuzz/corpus/training_config/), relative to the scratch
// directory, which becomes the working directory:
//   dump/metadata.jsonl, dump/original/0xxx/<id>.png   a dump of 12 posts with 3 tags
//   folders/{cat,dog}/<n>.png                          an image folder of 2 classes
//   vocab.json, pos_weight.npy, caption.npy, caption_ids.npy, init.safetensors (artist-conv2d's weights)
void make_fixture() {
  namespace fs = std::filesystem;
  const fs::path root = fuzz::scratch_directory();
  fs::current_path(root);
  Image picture;
  picture.width = picture.height = 12;
  picture.rgb.resize(12 * 12 * 3);
  for (size_t i = 0; i < picture.rgb.size(); ++i) picture.rgb[i] = uint8_t(i * 37);
  std::string lines;
  std::vector<int64_t> ids;
  for (int id = 1; id <= 12; ++id) {
    Post post;
    post.id = id;
    post.rating = "sqe"[id % 3];
    post.file_ext = "png";
    post.tags = {{"red", TagCategory::general}, {id % 2 ? "odd" : "even", TagCategory::general},
                 {"someone", TagCategory::character}};
    lines += post_line(post, PostForm::tag_strings, {}) + "\n";
    fs::create_directories(fmt::format("dump/original/{:04d}", id));
    save_png(post_image_path(post, ImageLayout::original).insert(0, "dump/"), picture);
    fs::create_directories(id % 2 ? "folders/cat" : "folders/dog");
    save_png(fmt::format("folders/{}/{}.png", id % 2 ? "cat" : "dog", id), picture);
    ids.push_back(id);
  }
  std::FILE* file = std::fopen("dump/metadata.jsonl", "w");
  std::fputs(lines.c_str(), file);
  std::fclose(file);
  DataReport report;
  build_vocabulary({"dump/metadata.jsonl"}, VocabularyOptions{}, report).save("vocab.json");
  const std::vector<float> weights(7, 2.0f);  // one per output of the default vocabulary
  write_npy("pos_weight.npy", NpyType::f32, {int64_t(weights.size())}, weights.data());
  const std::vector<float> caption(12 * 4, 0.5f);
  write_npy("caption.npy", NpyType::f32, {12, 4}, caption.data());
  write_npy("caption_ids.npy", NpyType::i64, {12}, ids.data());
  ZooOptions options;
  options.outputs = 2;
  options.input_size = 32;
  Model model = build_model(zoo_config("artist-conv2d", options));
  model.initialize(1);
  save_safetensors("init.safetensors", Safetensors{model.state_dict(), {}});
}

// A config within what a fuzzer can build thousands of times: small models on small pictures.
bool affordable(const TrainingFields& fields) {
  return fields.model.zoo.width <= 0.125 && fields.data.preprocess.size <= 64 && fields.model.zoo.gcn_features <= 64 &&
         fields.data.loader.batch_size <= 64;
}

// The fixture becomes the working directory, and libFuzzer reads its corpus and writes its
// findings after this: the paths it was given are made absolute first (they are parsed after).
void make_paths_absolute(int* argc, char*** argv) {
  static std::vector<std::string> arguments;
  static std::vector<char*> pointers;
  for (int i = 0; i < *argc; ++i) {
    std::string argument = (*argv)[i];
    const size_t equals = argument.find('=');
    if (i > 0 && argument[0] != '-') {
      argument = std::filesystem::absolute(argument).string();
    } else if (argument[0] == '-' && equals != std::string::npos && equals + 1 < argument.size() &&
               argument[equals + 1] != '/' &&
               (argument.rfind("-artifact_prefix=", 0) == 0 || argument.rfind("-exact_artifact_path=", 0) == 0 ||
                argument.rfind("-dict=", 0) == 0)) {
      argument = argument.substr(0, equals + 1) + std::filesystem::absolute(argument.substr(equals + 1)).string();
    }
    arguments.push_back(argument);
  }
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  *argv = pointers.data();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  make_paths_absolute(argc, argv);
  make_fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json config;
  try {
    config = json::parse(data, data + size);
  } catch (const json::exception&) {
    return 0;  // not JSON: nlohmann's parser, not ours
  }
  try {
    // Runs are made here, wherever the config points them.
    if (config.is_object() && config.contains("run") && config["run"].is_string()) config["run"] = "run";
    const TrainingFields fields = read_training_fields(config);
    if (!affordable(fields)) return 0;
    prepare_training(config);
  } catch (const Error& error) {
    fuzz::note_refusal(error);  // the refusal a user sees
  }
  return 0;
}
