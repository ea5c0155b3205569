// The ResNets of nn/model_zoo.h: torchvision's names and shapes, torchvision state dicts loading
// unchanged and computing what PyTorch computes (eval and train mode, running statistics), any
// input size, ResNet-14's layout, the artist paper's Conv2D net, and BatchNorm's running
// statistics going through training into checkpoints and weights files.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "nn/model_config.h"
#include "nn/safetensors.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "base/atomic_file.h"
#include "train/checkpoint.h"
#include "data/image.h"
#include "train/training_config.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Model zoo_model(const std::string& name, int64_t outputs, int64_t input_size, double width = 1.0) {
  ZooOptions options;
  options.outputs = outputs;
  options.input_size = input_size;
  options.width = width;
  return build_model(zoo_config(name, options));
}

std::map<std::string, Shape> state_shapes(Model& model) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, tensor] : model.state_dict()) shapes[name] = tensor.shape();
  return shapes;
}

// Largest |a − b| relative to the largest |a|.
double relative_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.cast(DType::f64).to_vector<double>(), y = b.cast(DType::f64).to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, std::fabs(x[i] - y[i]));
    scale = std::max(scale, std::fabs(x[i]));
  }
  return diff / std::max(scale, 1e-30);
}

// ---- against PyTorch (tests/resnet_fixture.py) ------------------------------------------------

class TorchResNet : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = fs::temp_directory_path() / fmt::format("i2v_resnet_fixture_{}_{}", test::run_seed(), ::getpid());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    const char* python = "/usr/bin/python3";
    failure_ = test::python_missing("numpy, torch");
    if (!failure_.empty()) return;
    const fs::path script = fs::path(I2V_SOURCE_DIR) / "tests" / "resnet_fixture.py";
    const fs::path log = directory_ / "script.log";
    const std::string command = fmt::format("{} '{}' '{}' {} > '{}' 2>&1", python, script.string(), directory_.string(),
                                            test::run_seed() % 100000, log.string());
    const int status = std::system(command.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const std::string output = read_file(log.string());
    if (code != 0) failure_ = fmt::format("{} failed (status {}):\n{}", command, status, output);
  }
  static void TearDownTestSuite() { fs::remove_all(directory_); }

  void SetUp() override {
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static std::string path(const std::string& name) { return (directory_ / name).string(); }

  // Loads the fixture's state dict into the zoo model, strictly, and compares the logits in eval
  // and train mode and the running statistics after the train-mode forward with PyTorch's.
  // Float sums in another order differ by ~1e-6 relative per layer; in train mode the last
  // stage normalises each channel over 2 images of 2x2 pixels, whose variance magnifies them.
  static void expect_as_torch(const std::string& fixture, const std::string& model_name, double width) {
    SCOPED_TRACE(fixture);
    Model model = zoo_model(model_name, 5, 64, width);
    model.load_state_dict(load_safetensors(path(fixture + ".safetensors")).tensors, /*strict=*/true);
    const Safetensors expected = load_safetensors(path(fixture + ".expected.safetensors"));
    const Tensor& x = expected.tensors.at("input");
    EXPECT_LT(relative_difference(expected.tensors.at("eval"), model.forward(x, Mode::eval)), 2e-5);
    EXPECT_LT(relative_difference(expected.tensors.at("train"), model.forward(x, Mode::train)), 2e-4);
    const std::map<std::string, Tensor> state = model.state_dict();
    int buffers = 0;
    for (const auto& [name, want] : expected.tensors) {
      if (name.rfind("after.", 0) != 0) continue;
      const Tensor& got = state.at(name.substr(6));
      if (want.dtype() == DType::i64)
        EXPECT_EQ(got.item<int64_t>({}), want.item<int64_t>({})) << name;
      else
        EXPECT_LT(relative_difference(want, got), 2e-4) << name;
      ++buffers;
    }
    EXPECT_GT(buffers, 0);
  }

  static inline fs::path directory_;
  static inline std::string failure_;
};

TEST_F(TorchResNet, NamesAndShapesAreTorchvisions) {
  const json shapes = json::parse(read_file(path("shapes.json")));
  for (const char* name : {"resnet18", "resnet34", "resnet50", "resnet101"}) {
    SCOPED_TRACE(name);
    std::map<std::string, Shape> want;
    for (const json& entry : shapes.at(name)) want[entry.at(0).get<std::string>()] = entry.at(1).get<Shape>();
    Model model = zoo_model(name, 1000, 224);
    EXPECT_EQ(state_shapes(model), want);
  }
}

TEST_F(TorchResNet, Resnet18LoadsATorchStateDictAndComputesAsPyTorch) { expect_as_torch("resnet18", "resnet18", 1.0); }

TEST_F(TorchResNet, Resnet50LoadsATorchStateDictAndComputesAsPyTorch) {
  expect_as_torch("resnet50_w4", "resnet50", 0.25);
}

// ---- the zoo's own checks ---------------------------------------------------------------------

TEST(ResNetZoo, AnyInputSizeGivesTheSameParameters) {
  const std::map<std::string, Shape> at_224 = [] {
    Model m = zoo_model("resnet18", 7, 224, 0.125);
    return state_shapes(m);
  }();
  for (int64_t size : {32, 64, 100, 161}) {
    Model model = zoo_model("resnet18", 7, size, 0.125);
    EXPECT_EQ(state_shapes(model), at_224) << size;
    EXPECT_EQ(model.summary(3).back().output_shape, (Shape{3, 7})) << size;
  }
}

TEST(ResNetZoo, Resnet14IsResnet18WithoutItsLastStage) {
  Model model = zoo_model("resnet14", 9, 64);
  int weighted = 0;
  for (const ModelNode& node : model.nodes())
    weighted += node.layer->kind() == "linear" ||
                (node.layer->kind() == "conv2d" && node.name.find("downsample") == std::string::npos);
  EXPECT_EQ(weighted, 14);
  std::map<std::string, Shape> want = [] {
    Model r18 = zoo_model("resnet18", 9, 64);
    return state_shapes(r18);
  }();
  for (auto it = want.begin(); it != want.end();) it = it->first.rfind("layer4.", 0) == 0 ? want.erase(it) : std::next(it);
  want["fc.weight"] = {9, 256};
  EXPECT_EQ(state_shapes(model), want);
  for (const LayerSummary& row : model.summary(2)) {
    if (row.name == "maxpool") {
      EXPECT_EQ(row.output_shape, (Shape{2, 64, 16, 16}));
    } else if (row.name == "layer3.1.relu") {
      EXPECT_EQ(row.output_shape, (Shape{2, 256, 4, 4}));
    }
  }
}

TEST(ResNetZoo, ArtistConv2dHasThePapersShapes) {
  Model model = zoo_model("artist-conv2d", 4, 64);
  std::map<std::string, Shape> shapes;
  for (const LayerSummary& row : model.summary(1)) shapes[row.name] = row.output_shape;
  EXPECT_EQ(shapes.at("conv1"), (Shape{1, 8, 63, 63}));   // (64 + 2 - 4) / 1 + 1
  EXPECT_EQ(shapes.at("pool1"), (Shape{1, 8, 8, 8}));     // ⌊(63 + 2 - 8) / 8⌋ + 1
  EXPECT_EQ(shapes.at("conv2"), (Shape{1, 16, 9, 9}));    // (8 + 2 - 2) / 1 + 1
  EXPECT_EQ(shapes.at("pool2"), (Shape{1, 16, 2, 2}));    // ⌊(9 + 2 - 4) / 4⌋ + 1
  EXPECT_EQ(shapes.at("fc"), (Shape{1, 4}));
}

// configs/<name>.json holds what the zoo builds for the file's own outputs and input size.
TEST(ResNetZoo, ShippedConfigFilesAreTheZoosConfigs) {
  const fs::path configs = fs::path(I2V_SOURCE_DIR) / "configs";
  int compared = 0;
  for (const std::string& name : zoo_model_names()) {
    const fs::path file = configs / (name + ".json");
    if (!fs::exists(file)) continue;
    const json config = json::parse(read_file(file.string()));
    ZooOptions options;
    options.outputs = config.at("outputs").get<int64_t>();
    options.input_size = config.at("input").at(1).get<int64_t>();
    EXPECT_EQ(config, zoo_config(name, options)) << file;
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

// Many converters write torchvision state dicts without BatchNorm's num_batches_tracked, and
// PyTorch loads them (the count becomes 0): so does a strict load here, the training config's
// strict "init", and a weights file named with --model. The running statistics stay required.
class ConvertedStateDict : public test::TempDirectoryTest {};

TEST_F(ConvertedStateDict, LoadsWithoutNumBatchesTracked) {
  auto rng = test::test_rng();
  Model source = zoo_model("resnet14", 3, 32, 0.0625);
  source.initialize(rng());
  std::map<std::string, Tensor> converted;
  int dropped = 0;
  for (const auto& [name, tensor] : source.state_dict()) {
    if (name.size() > 20 && name.compare(name.size() - 20, 20, ".num_batches_tracked") == 0) {
      ++dropped;
      continue;
    }
    converted[name] = tensor.contiguous();
  }
  ASSERT_EQ(dropped, 15);  // bn1, 12 block BatchNorms (3 stages of 2 blocks), 2 downsample BatchNorms

  Model target = zoo_model("resnet14", 3, 32, 0.0625);
  for (auto& [name, buffer] : target.buffers())
    if (buffer->dtype() == DType::i64) buffer->fill_(7.0);
  target.load_state_dict(converted, /*strict=*/true);
  for (const auto& [name, tensor] : target.state_dict()) {
    if (tensor.dtype() == DType::i64) EXPECT_EQ(tensor.item<int64_t>({}), 0) << name;
    else EXPECT_EQ(tensor.to_vector<float>(), converted.at(name).to_vector<float>()) << name;
  }

  const std::string file = path("converted.safetensors");
  save_safetensors(file, Safetensors{converted, {}});
  Model initialised = zoo_model("resnet14", 3, 32, 0.0625);
  load_initial_weights(initialised, file, {}, 1, /*strict=*/true);
  EXPECT_EQ(initialised.state_dict().at("layer3.1.bn2.running_var").to_vector<float>(),
            converted.at("layer3.1.bn2.running_var").to_vector<float>());

  std::map<std::string, Tensor> without_statistics = converted;
  without_statistics.erase("layer2.0.bn1.running_mean");
  test::expect_error_containing([&] { target.load_state_dict(without_statistics, true); },
                                "missing: layer2.0.bn1.running_mean");
}

// ---- BatchNorm's running statistics through the trainer ---------------------------------------

class ResNetTraining : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    Rng rng(11);
    for (const char* cls : {"warm", "cold"})
      for (int i = 0; i < 6; ++i) {
        Image image;
        image.width = image.height = 32;
        image.rgb.resize(32 * 32 * 3);
        for (size_t p = 0; p < image.rgb.size(); ++p)
          image.rgb[p] = uint8_t((p % 3 == 0) == (cls[0] == 'w') ? 140 + rng.below(110) : rng.below(120));
        fs::create_directories(path(std::string("pictures/") + cls));
        save_png(path(fmt::format("pictures/{}/{}.png", cls, i)), image);
      }
  }
};

TEST_F(ResNetTraining, RunningStatisticsReachCheckpointsAndWeightsFiles) {
  const json config = {{"run", path("run")},
                       {"seed", 4},
                       {"model", {{"name", "resnet14"}, {"width", 0.0625}}},
                       {"data",
                        {{"folders", path("pictures")},
                         {"split_fractions", "0.67,0.33,0"},
                         {"preprocess", {{"size", 32}}},
                         {"batch_size", 4},
                         {"workers", 1}}},
                       {"schedule", {{"lr", 0.01}}},
                       {"max_steps", 3},
                       {"epochs", 5}};
  TrainingSetup setup = prepare_training(config);
  const TrainResult result = run_training(setup, false);
  ASSERT_EQ(result.steps, 3);

  const std::map<std::string, Tensor> state = setup.model->state_dict();
  const Safetensors final_weights = load_safetensors(path("run/final.safetensors"));
  const Checkpoint checkpoint = CheckpointDirectory(path("run/checkpoints"), 3).load_latest().value().checkpoint;
  int buffers = 0;
  for (const auto& [name, tensor] : state) {
    if (name.find("running_") == std::string::npos && name.find("num_batches_tracked") == std::string::npos) continue;
    ++buffers;
    ASSERT_TRUE(final_weights.tensors.count(name)) << name;
    ASSERT_TRUE(checkpoint.tensors.count("model." + name)) << name;
    if (tensor.dtype() == DType::i64) {
      EXPECT_EQ(tensor.item<int64_t>({}), 3) << name;  // one per training step
      EXPECT_EQ(final_weights.tensors.at(name).item<int64_t>({}), 3) << name;
      continue;
    }
    EXPECT_EQ(final_weights.tensors.at(name).to_vector<float>(), tensor.to_vector<float>()) << name;
    EXPECT_EQ(checkpoint.tensors.at("model." + name).to_vector<float>(), tensor.to_vector<float>()) << name;
  }
  EXPECT_EQ(buffers, 3 * 15);  // 12 block BatchNorms, bn1, two downsample BatchNorms
  const std::vector<float> moved = state.at("bn1.running_mean").to_vector<float>();
  EXPECT_TRUE(std::any_of(moved.begin(), moved.end(), [](float v) { return v != 0.0f; }));

  // The weights file alone reproduces the trained model in eval mode, running statistics included.
  Model reloaded = build_model(setup.config.at("model_config"));
  reloaded.load_state_dict(final_weights.tensors);
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 32, 32}, rng);
  EXPECT_EQ(reloaded.forward(x, Mode::eval).to_vector<float>(), setup.model->forward(x, Mode::eval).to_vector<float>());
}

}  // namespace
}  // namespace i2v
