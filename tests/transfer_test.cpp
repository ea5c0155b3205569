// Transfer learning (Lagunas & Garces): the vgg19-transfer preset maps the paper's layers to
// torchvision's names and applies each layer's rate exactly; torchvision-named weights with a
// missing or mis-shaped tensor are refused naming it; features of a tiny image folder; and the
// whole experiment end to end on it.
#include <cfloat>
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "tests/index_test_util.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "base/atomic_file.h"
#include "train/feature_set.h"
#include "data/image.h"
#include "train/inference.h"
#include "train/training_config.h"
#include "train/transfer.h"

namespace i2v {
namespace {

using nlohmann::json;

// VGG-19 at 1/16 of the width (4 to 32 channels, 256-unit fully connected layers) on 32x32
// pictures: the same layers and names, small enough for a test.
constexpr double kWidth = 0.0625;
constexpr int kSize = 32;

json preset() { return json::parse(read_file(std::string(I2V_SOURCE_DIR) + "/configs/vgg19-transfer.json")); }

// The 19 weight layers of VGG-19 in order, as the zoo's builder names them.
std::vector<std::string> weight_layers() {
  std::vector<std::string> names;
  const json config = zoo_config("vgg19");
  for (const json& layer : config.at("layers"))
    if (layer.at("type") == "conv2d" || layer.at("type") == "linear") names.push_back(layer.at("name"));
  return names;
}

class TransferTest : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    // Three classes of pictures: a red, green or blue disc on a noisy background.
    Rng rng(11);
    const char* classes[] = {"blue", "green", "red"};
    for (int c = 0; c < 3; ++c) {
      std::filesystem::create_directories(path(std::string("pictures/") + classes[c]));
      for (int i = 0; i < 10; ++i) {
        Image image;
        image.width = image.height = kSize;
        image.rgb.resize(size_t(kSize * kSize * 3));
        const double cx = rng.uniform(10, 22), cy = rng.uniform(10, 22);
        for (int y = 0; y < kSize; ++y)
          for (int x = 0; x < kSize; ++x) {
            const bool inside = std::hypot(x - cx, y - cy) < 8;
            for (int ch = 0; ch < 3; ++ch)
              image.pixel(x, y)[ch] = uint8_t(inside ? (ch == 2 - c ? 220 : 40) : 90 + rng.below(80));
          }
        save_png(path(fmt::format("pictures/{}/{}.png", classes[c], i)), image);
      }
    }
    // "Pre-trained" weights with torchvision's names and 7 classes of their own.
    Model pretrained = build_model(zoo_config("vgg19", {7, kSize, kWidth}));
    pretrained.initialize(5);
    save_safetensors(path("pretrained.safetensors"), {pretrained.state_dict(), {}});
  }

  // The preset, made small: the model, the data and the weights made here.
  json small_preset(const std::string& run) const {
    json config = preset();
    config["run"] = path(run);
    config["model"] = {{"name", "vgg19"}, {"width", kWidth}, {"input_size", kSize}};
    config["init"]["weights"] = path("pretrained.safetensors");
    config["data"]["folders"] = path("pictures");
    config["data"]["preprocess"] = {{"preset", "imagenet"}, {"size", kSize}};
    config["data"]["batch_size"] = 6;
    config["data"]["workers"] = 1;
    config["epochs"] = 2;
    return config;
  }

  // The file's tensors, with `change` applied.
  void write_changed_weights(const std::string& name, const std::function<void(std::map<std::string, Tensor>&)>& change) {
    Safetensors file = load_safetensors(path("pretrained.safetensors"));
    change(file.tensors);
    save_safetensors(path(name), file);
  }
};

TEST(VggTransferPreset, MapsThePapersLayersToTorchvisionNames) {
  const std::vector<std::string> layers = weight_layers();
  ASSERT_EQ(layers.size(), 19u);
  // Layers 1-10 and 17-19 restart (rate 1e-2), 11-16 keep their weights at 1e-4.
  std::vector<std::string> restarted(layers.begin(), layers.begin() + 10), kept(layers.begin() + 10, layers.begin() + 16);
  restarted.insert(restarted.end(), layers.begin() + 16, layers.end());
  const json config = preset();
  EXPECT_EQ(config.at("init").at("restart").get<std::vector<std::string>>(), restarted);
  EXPECT_TRUE(config.at("init").at("strict").get<bool>());
  ASSERT_EQ(config.at("optimizer").at("layers").size(), 1u);
  const json& rule = config.at("optimizer").at("layers")[0];
  EXPECT_EQ(rule.at("layers").get<std::vector<std::string>>(), kept);
  EXPECT_DOUBLE_EQ(config.at("schedule").at("lr").get<double>() * rule.at("lr_mult").get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(config.at("schedule").at("lr").get<double>(), 1e-2);
  EXPECT_EQ(config.at("schedule").at("type"), "plateau");
  EXPECT_DOUBLE_EQ(config.at("optimizer").at("momentum").get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(config.at("optimizer").at("weight_decay").get<double>(), 5e-4);
  EXPECT_EQ(config.at("loss").at("type"), "cross_entropy");
  EXPECT_EQ(config.at("data").at("split_fractions"), "0.64,0.16,0.2");
  EXPECT_EQ(restarted[9], "features.21");
  EXPECT_EQ(kept.front(), "features.23");
  EXPECT_EQ(kept.back(), "features.34");
}

TEST_F(TransferTest, RestartsLoadsAndAppliesEachLayersRateExactly) {
  json config = small_preset("rates");
  // A frozen layer too: rate 0 must leave it exactly as loaded.
  config["optimizer"]["layers"].push_back({{"layers", {"features.34"}}, {"lr_mult", 0}});
  TrainingSetup setup = prepare_training(config);
  const Safetensors file = load_safetensors(path("pretrained.safetensors"));
  const json restart = config["init"]["restart"];
  auto restarted = [&](const std::string& tensor) {
    const std::string layer = tensor.substr(0, tensor.rfind('.'));
    return std::find(restart.begin(), restart.end(), layer) != restart.end();
  };

  std::map<std::string, std::vector<float>> before;
  for (auto& [name, tensor] : setup.model->state_dict()) {
    before[name] = tensor.to_vector<float>();
    const Tensor& loaded = file.tensors.at(name);
    if (restarted(name)) {
      if (name.find("weight") != std::string::npos && loaded.shape() == tensor.shape()) {
        EXPECT_NE(before[name], loaded.to_vector<float>()) << name << " was restarted: it must not hold the loaded values";
      }
    } else {
      EXPECT_EQ(before[name], loaded.to_vector<float>()) << name << " is kept: it must hold the loaded values";
    }
  }

  // One step at a large rate, so that every layer's update stands far above float rounding.
  DataLoader loader(setup.train, setup.loader);
  const Batch batch = *loader.next();
  setup.model->zero_grad();
  const Tensor logits = setup.model->forward(batch.images, Mode::train);
  setup.loss->forward({logits, batch.targets});
  setup.model->backward(setup.loss->backward());
  std::map<std::string, std::vector<float>> gradients;
  for (auto& [name, p] : setup.model->parameters())
    if (p->requires_grad) gradients[name] = p->grad.to_vector<float>();
  const double lr = 10.0, weight_decay = config["optimizer"]["weight_decay"];
  setup.sgd->step(lr);

  for (auto& [name, p] : setup.model->parameters()) {
    const std::string layer = name.substr(0, name.rfind('.'));
    const double mult = setup.sgd->rates_of(layer).lr_mult;
    const std::vector<float> after = p->value.to_vector<float>(), &w = before[name];
    if (layer == "features.34") {
      EXPECT_EQ(mult, 0.0);
      EXPECT_EQ(after, w) << name << " is frozen";
      continue;
    }
    EXPECT_EQ(mult, restarted(name) ? 1.0 : 0.01) << name;
    // PyTorch's first momentum step: v = g + wd·w, w -= lr·mult·v; every element to float
    // rounding, and the updates far larger than the rounding of w.
    const std::vector<float>& g = gradients.at(name);
    double worst_ulps = 0, largest_update = 0, largest_w = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      const float update = float(lr * mult) * (g[i] + float(weight_decay) * w[i]);
      const double scale = std::max({std::fabs(w[i]), std::fabs(update), 1e-30f});
      worst_ulps = std::max(worst_ulps, std::fabs(double(w[i] - update) - double(after[i])) / (FLT_EPSILON * scale));
      largest_update = std::max(largest_update, double(std::fabs(update)));
      largest_w = std::max(largest_w, double(std::fabs(w[i])));
    }
    EXPECT_LE(worst_ulps, 4.0) << name << ": not the update of rate " << lr * mult;
    EXPECT_GT(largest_update, 1e3 * FLT_EPSILON * largest_w) << name << ": the update is too small to tell rates apart";
  }
}

TEST_F(TransferTest, TorchvisionWeightsWithAMissingOrMisShapedTensorAreRefusedNamingIt) {
  write_changed_weights("missing.safetensors", [](auto& tensors) { tensors.erase("features.23.weight"); });
  write_changed_weights("misshaped.safetensors", [](auto& tensors) {
    tensors["features.25.bias"] = Tensor::zeros({3});
  });
  for (const auto& [file, tensor, problem] : {std::tuple{"missing.safetensors", "features.23.weight", "missing"},
                                             std::tuple{"misshaped.safetensors", "features.25.bias", "mis-shaped"}}) {
    json config = small_preset(std::string("refused-") + file);
    config["init"]["weights"] = path(file);
    try {
      prepare_training(config);
      ADD_FAILURE() << file << " must be refused";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(tensor), std::string::npos) << message;
      EXPECT_NE(message.find(problem), std::string::npos) << message;
      EXPECT_NE(message.find(file), std::string::npos) << message;
    }
    // The same file as a model to run (i2v feature --model CONFIG).
    write_file_atomically(path("vgg19-small.json"), zoo_config("vgg19", {7, kSize, kWidth}).dump());
    try {
      load_trained_model(path(file), Device::cpu(), path("vgg19-small.json"));
      ADD_FAILURE() << file << " must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(tensor), std::string::npos) << e.what();
    }
  }
  // The untouched file loads, its outputs sized from its last layer (no metadata).
  const TrainedModel model = load_trained_model(path("pretrained.safetensors"), Device::cpu(), path("vgg19-small.json"));
  EXPECT_EQ(model.model->layer("classifier.6").parameters()[0].second->value.size(0), 7);
}

// torchvision's vgg19 layout (features, avgpool, classifier) written in plain PyTorch at 1/16 of
// the width, converted as the README says: i2v's fc7 of the converted weights is PyTorch's.
TEST_F(TransferTest, TorchvisionLayoutConvertsAndGivesPyTorchsFc7) {
  if (const std::string missing = test::python_missing("numpy, torch"); !missing.empty()) FAIL() << missing;
  const std::string script = R"(
import sys
import numpy as np
import torch
from torch import nn
sys.path.insert(0, ')" + std::string(I2V_SOURCE_DIR) + R"(/scripts')
import safetensors_reference
d = ')" + path("") + R"('
torch.manual_seed(3)
layers, channels = [], 3
for v in [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']:
    if v == 'M':
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    else:
        layers += [nn.Conv2d(channels, v // 16, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        channels = v // 16
class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(channels * 7 * 7, 256), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(256, 256), nn.ReLU(True), nn.Dropout(), nn.Linear(256, 10))
model = VGG().eval()
torch.save(model.state_dict(), d + 'vgg19.pth')
safetensors_reference.from_torch(d + 'vgg19.pth', d + 'vgg19.safetensors')
x = torch.rand(2, 3, 224, 224)
with torch.no_grad():
    fc7 = model.classifier[:5](torch.flatten(model.avgpool(model.features(x)), 1))
np.save(d + 'x.npy', x.numpy())
np.save(d + 'fc7.npy', fc7.numpy())
)";
  ASSERT_EQ(test::run_python(script, path("")), 0);
  write_file_atomically(path("vgg19-small.json"), zoo_config("vgg19", {1, 224, kWidth}).dump());
  TrainedModel converted = load_trained_model(path("vgg19.safetensors"), Device::cpu(), path("vgg19-small.json"));
  const Tensor fc7 = converted.model->forward(read_npy_tensor(path("x.npy")), Mode::eval,
                                              resolve_layer_name(*converted.model, "fc7"));
  const std::vector<float> ours = fc7.to_vector<float>(), torch = read_npy_tensor(path("fc7.npy")).to_vector<float>();
  ASSERT_EQ(ours.size(), torch.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], torch[i], 1e-4 * std::max(1.0f, std::fabs(torch[i])));
}

TEST_F(TransferTest, FeaturesOfAnImageFolderAsNpyWithLabels) {
  Model model = build_model(zoo_config("vgg19", {3, kSize, kWidth}));
  model.initialize(9);
  DatasetOptions options;
  options.preprocess.size = kSize;
  auto contents = std::make_shared<const DatasetContents>(read_image_folder({path("pictures"), {0.64, 0.16, 0.2}, 4, {}}));
  auto dataset = std::make_shared<const Dataset>(contents, std::nullopt, options);
  const FeatureSet set = extract_features(model, dataset, Device::cpu(), "fc7", 4, 1);
  EXPECT_EQ(set.about.at("layer"), "classifier.4");
  write_feature_set(path("fc7.npy"), set);

  const NpyArray features = read_npy(path("fc7.npy"));
  EXPECT_EQ(features.type, NpyType::f32);
  EXPECT_EQ(features.shape, (Shape{30, 256}));
  const NpyArray labels = read_npy(path("fc7.labels.npy"));
  EXPECT_EQ(labels.type, NpyType::i64);
  EXPECT_EQ(labels.shape, (Shape{30}));
  const FeatureSet back = read_feature_set(path("fc7.npy"));
  EXPECT_EQ(back.classes, (std::vector<std::string>{"blue", "green", "red"}));
  EXPECT_EQ(back.features.values, set.features.values);
  for (int64_t i = 0; i < back.features.rows; ++i) {
    const std::string& picture = back.paths[size_t(i)];
    EXPECT_NE(picture.find("/" + back.classes[size_t(back.labels[size_t(i)])] + "/"), std::string::npos) << picture;
  }
  for (float v : back.features.values) ASSERT_GE(v, 0.0f) << "fc7 is taken after its ReLU";
  EXPECT_EQ(back.rows_of_split("test").features.rows, 3 * 2);
  EXPECT_EQ(back.rows_of_split("train").features.rows + back.rows_of_split("val").features.rows, 3 * 8);

  // Row 0 is the model's classifier.4 output for the first picture.
  const Tensor first = dataset->get(0).image.unsqueeze(0);
  const std::vector<float> expected = model.forward(first, Mode::eval, "classifier.4").to_vector<float>();
  ASSERT_EQ(int64_t(expected.size()), back.features.dims);
  for (int64_t d = 0; d < back.features.dims; ++d)
    EXPECT_NEAR(back.features.row(0)[d], expected[size_t(d)], 1e-5 * std::max(1.0f, std::fabs(expected[size_t(d)])));
}

TEST_F(TransferTest, TheExperimentEndToEnd) {
  json config = small_preset("experiment");
  config["transfer"]["svm"] = {{"kernels", {"rbf", "sigmoid"}}, {"C", {1, 100}}, {"gamma", {1e-3, 1e-2}}};
  const PrecisionTable table = run_transfer(config, /*resume=*/false);
  std::vector<std::string> names;
  for (const PrecisionRow& row : table.rows()) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"baseline network", "baseline + SVM", "optimized network",
                                             "optimized + SVM", "pre-trained + SVM"}));
  for (const PrecisionRow& row : table.rows()) {
    EXPECT_GE(row.top1, 0.0);
    EXPECT_EQ(row.top5, 1.0) << "3 classes: the top 5 hold every class";
  }
  EXPECT_EQ(table.pictures_per_class(), (std::vector<int64_t>{2, 2, 2}));
  const json saved = json::parse(read_file(path("experiment/transfer.json")));
  EXPECT_EQ(saved.at("rows").size(), 5u);
  EXPECT_TRUE(saved.at("rows").at("optimized + SVM").contains("parameters"));
  EXPECT_NE(read_file(path("experiment/transfer.csv")).find("optimized + SVM,"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(path("experiment/optimized/svm.safetensors")));
  EXPECT_EQ(read_feature_set(path("experiment/baseline/features.npy")).features.rows, 30);
  // The baseline restarts only the classifier and trains every layer at the base rate.
  const json baseline = baseline_config(config);
  EXPECT_EQ(baseline.at("init").at("restart"), json({"classifier.6"}));
  EXPECT_TRUE(baseline.at("optimizer").at("layers").empty());
}

TEST_F(TransferTest, WithoutPretrainedWeightsTheConfigAsItIsGivesTwoRows) {
  json config = small_preset("scratch");
  config["init"] = json::object();
  config["transfer"]["svm"] = {{"kernels", {"rbf"}}, {"C", {10}}, {"gamma", {1e-2}}};
  const PrecisionTable table = run_transfer(config, /*resume=*/false);
  std::vector<std::string> names;
  for (const PrecisionRow& row : table.rows()) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"network", "network + SVM"}));
  EXPECT_TRUE(std::filesystem::exists(path("scratch/network/svm.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(path("scratch/pretrained")));
}

}  // namespace
}  // namespace i2v
