// The shipped GCN models (resnetN-gcn, nn/model_zoo.h) and their caption input end to end: the
// head's layout, widths and options; caption features read from .npy files keyed by post id and
// given with each batch (data/auxiliary_features.h); training on a multi-label dump with them;
// and the errors for missing rows and mismatched inputs.
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "tests/data_fixture.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "data/data_loader.h"
#include "train/training_config.h"

namespace i2v {
namespace {

using nlohmann::json;

json gcn_config(const std::string& name, int64_t outputs, int64_t caption = 0, bool average = true,
                int64_t features = 0) {
  ZooOptions options;
  options.outputs = outputs;
  options.input_size = 64;
  options.width = 0.125;
  options.caption_features = caption;
  options.gcn_average_scores = average;
  options.gcn_features = features;
  return zoo_config(name, options);
}

std::map<std::string, Shape> output_shapes(const Model& model, int64_t batch) {
  std::map<std::string, Shape> shapes;
  for (const LayerSummary& row : model.summary(batch)) shapes[row.name] = row.output_shape;
  return shapes;
}

TEST(GcnModels, Resnet18GcnHasThePapersHead) {
  Model model = build_model(gcn_config("resnet18-gcn", 7));
  const std::map<std::string, Shape> shapes = output_shapes(model, 2);
  EXPECT_EQ(shapes.at("layer4.1.relu"), (Shape{2, 64, 2, 2}));  // M: D = 512 / 8
  EXPECT_EQ(shapes.at("sam.cam"), (Shape{2, 7, 2, 2}));
  EXPECT_EQ(shapes.at("sam.score"), (Shape{2, 7}));
  EXPECT_EQ(shapes.at("sam.nodes"), (Shape{2, 7, 64}));
  EXPECT_EQ(shapes.at("gcn.dynamic_adj"), (Shape{2, 7, 7}));
  EXPECT_EQ(shapes.at("gcn.dynamic_relu"), (Shape{2, 7, 64}));
  EXPECT_EQ(model.nodes().back().name, "fuse.mean");
  EXPECT_EQ(shapes.at("fuse.mean"), (Shape{2, 7}));
  EXPECT_FALSE(model.has_node("avgpool"));
  EXPECT_FALSE(model.has_node("fc"));
  EXPECT_TRUE(model.auxiliary_inputs().empty());
  const std::map<std::string, Tensor> state = model.state_dict();
  EXPECT_EQ(state.at("gcn.static_adj.weight").shape(), (Shape{7, 7}));
  EXPECT_EQ(state.at("gcn.classifier.weight").shape(), (Shape{7, 64}));
  EXPECT_EQ(state.at("sam.transform.weight").shape(), (Shape{64, 64, 1, 1}));
  EXPECT_EQ(state.count("sam.cam.bias"), 0u);
  EXPECT_EQ(state.at("layer1.0.conv1.weight").shape(), (Shape{8, 8, 3, 3})) << "the backbone keeps torchvision's names";
}

TEST(GcnModels, OptionsChangeTheHead) {
  Model captioned = build_model(gcn_config("resnet14-gcn", 5, /*caption=*/3, /*average=*/false, /*features=*/12));
  EXPECT_EQ(captioned.auxiliary_inputs().at("caption"), (Shape{3}));
  const std::map<std::string, Shape> shapes = output_shapes(captioned, 2);
  EXPECT_EQ(shapes.at("sam.nodes"), (Shape{2, 5, 12}));
  EXPECT_EQ(shapes.at("gcn.caption"), (Shape{2, 5, 15}));
  EXPECT_EQ(shapes.at("gcn.dynamic_adj"), (Shape{2, 5, 5}));
  EXPECT_EQ(captioned.nodes().back().name, "gcn.classifier");
  EXPECT_FALSE(captioned.has_node("fuse.sum"));

  // ResNet-101's 2048 channels become ADD-GCN's 1024 node features.
  ZooOptions full;
  full.outputs = 100;
  full.input_size = 448;
  const json config = zoo_config("resnet101-gcn", full);
  for (const json& layer : config.at("layers")) {
    if (layer.at("name") == "sam.transform") {
      EXPECT_EQ(layer.at("out_channels"), 1024);
    }
  }
  EXPECT_THROW(zoo_config("vgg19-gcn", full), Error);
}

TEST(GcnModels, CaptionChangesTheScores) {
  Model model = build_model(gcn_config("resnet14-gcn", 4, 6));
  model.initialize(3);
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 64, 64}, rng);
  // Opposite captions, large enough to move the dynamic adjacency's logits past wherever the
  // image's features put them (smaller random ones left its sigmoid saturated, and the scores
  // unchanged, for one run in six).
  const Tensor a = model.forward(x, {{"caption", Tensor::full({2, 6}, 100.0)}}, Mode::eval);
  const Tensor b = model.forward(x, {{"caption", Tensor::full({2, 6}, -100.0)}}, Mode::eval);
  EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
}

// ---- training with captions ---------------------------------------------------------------------

class GcnTraining : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    fixture_ = test::make_fixture(dir_ / "dump");
  }

  // Caption features for `ids`, 6 wide.
  void write_captions(const std::vector<int64_t>& ids) {
    std::vector<float> values;
    for (size_t i = 0; i < ids.size() * 6; ++i) values.push_back(float(i % 7) * 0.1f - 0.3f);
    write_npy(path("captions.npy"), Tensor::from_vector(values, {int64_t(ids.size()), 6}));
    write_npy(path("ids.npy"), Tensor::from_vector(ids, {int64_t(ids.size())}));
  }

  json config(const std::string& run) const {
    return {{"run", path(run)},
            {"seed", 2},
            {"model", {{"name", "resnet14-gcn"}, {"width", 0.0625}, {"gcn_features", 8}}},
            {"data",
             {{"metadata", json::array({fixture_.metadata})},
              {"images", fixture_.root.string()},
              {"split_fractions", "1,0,0"},
              {"preprocess", {{"size", 32}}},
              {"augment", {{"crop", "random"}, {"hflip", true}}},
              {"auxiliary", {{"caption", {{"features", path("captions.npy")}, {"ids", path("ids.npy")}}}}},
              {"batch_size", 3},
              {"workers", 1}}},
            {"optimizer", {{"momentum", 0.9}, {"weight_decay", 1e-4},
                           {"layers", json::array({{{"pattern", "(sam|gcn|fuse)\\..*"}, {"lr_mult", 10}}})}}},
            {"schedule", {{"lr", 0.005}}},
            {"max_steps", 3},
            {"epochs", 5}};
  }

  test::Fixture fixture_;
};

TEST_F(GcnTraining, TrainsOnADumpWithCaptions) {
  write_captions({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  TrainingSetup setup = prepare_training(config("run"));
  EXPECT_EQ(setup.model->auxiliary_inputs().at("caption"), (Shape{6}));
  EXPECT_EQ(setup.sgd->rates_of("gcn.static_adj").lr_mult, 10);
  EXPECT_EQ(setup.sgd->rates_of("layer1.0.conv1").lr_mult, 1);

  DataLoader loader(setup.train, setup.loader);
  const std::optional<Batch> batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  const Tensor& captions = batch->auxiliary.at("caption");
  ASSERT_EQ(captions.shape(), (Shape{batch->size(), 6}));
  const std::vector<float> rows = captions.to_vector<float>();
  for (int64_t i = 0; i < batch->size(); ++i) {
    const int64_t id = batch->ids[size_t(i)];  // row id - 1 of the file
    for (int64_t d = 0; d < 6; ++d)
      EXPECT_FLOAT_EQ(rows[size_t(i * 6 + d)], float(((id - 1) * 6 + d) % 7) * 0.1f - 0.3f) << id;
  }

  const TrainResult result = run_training(setup, false);
  EXPECT_EQ(result.steps, 3);
  EXPECT_TRUE(std::isfinite(result.last_train_loss));
  const Safetensors weights = load_safetensors(path("run/final.safetensors"));
  EXPECT_TRUE(weights.tensors.count("gcn.static_adj.weight"));
  const json model_config = json::parse(weights.metadata.at("i2v.model_config"));
  EXPECT_EQ(model_config.at("auxiliary_inputs").at("caption"), json::array({6}));
}

TEST_F(GcnTraining, MissingCaptionsAreAnErrorUnlessZeros) {
  write_captions({1, 2, 3});
  try {
    prepare_training(config("run"));
    ADD_FAILURE() << "posts without a caption row were accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("auxiliary input 'caption'"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("have no row"), std::string::npos) << e.message();
  }
  json zeros = config("zeros");
  zeros["data"]["auxiliary"]["caption"]["missing"] = "zeros";
  TrainingSetup setup = prepare_training(zeros);
  EXPECT_EQ(run_training(setup, false).steps, 3);
}

TEST_F(GcnTraining, InputsTheModelDoesNotReadAreRefused) {
  write_captions({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  json plain = config("plain");
  plain["model"]["name"] = "resnet14";
  EXPECT_THROW(prepare_training(plain), Error);
  json renamed = config("renamed");
  renamed["data"]["auxiliary"] = {{"words", renamed["data"]["auxiliary"]["caption"]}};
  EXPECT_THROW(prepare_training(renamed), Error);
}

}  // namespace
}  // namespace i2v
