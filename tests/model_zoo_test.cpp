// The shipped models: configs/ holds exactly what the C++ builders make, they build, and their
// sizes match the published networks.
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/model_config.h"
#include "nn/model_zoo.h"
#include "base/atomic_file.h"

namespace i2v {
namespace {

TEST(ModelZoo, ConfigFilesMatchTheBuilders) {
  for (const std::string& name : zoo_model_names()) {
    const std::string path = std::string(I2V_SOURCE_DIR) + "/configs/" + name + ".json";
    EXPECT_EQ(nlohmann::json::parse(read_file(path)), zoo_config(name))
        << path << " differs from the builder: regenerate it with `i2v model export --model " << name << " -o " << path << "`";
  }
}

TEST(ModelZoo, ParameterCountsMatchThePublishedNetworks) {
  // torchvision's vgg19 (1000 classes): 143,667,240 parameters.
  EXPECT_EQ(build_model(zoo_config("vgg19")).parameter_count(), 143667240);
  // i2v-tag: VGG-11's convs (9,220,480), conv6_1..3 (23,596,032), conv6_4 to 1,539 tags (14,184,963).
  EXPECT_EQ(build_model(zoo_config("i2v-tag")).parameter_count(), 9220480 + 23596032 + 14184963);
}

// The size of a model counted from its config, before building it (build_model refuses what
// would not fit in memory), is the built model's.
TEST(ModelZoo, SizeEstimatedFromTheConfigIsTheBuiltModels) {
  ZooOptions small;
  small.width = 0.125;
  small.input_size = 64;
  small.outputs = 12;
  for (const std::string& name : zoo_model_names()) {
    SCOPED_TRACE(name);
    const nlohmann::json config = zoo_config(name, small);
    Model model = build_model(config);
    int64_t buffers = 0;
    for (const auto& [buffer, tensor] : model.state_dict()) buffers += tensor.numel();
    buffers -= model.parameter_count();
    const ModelSize size = estimate_model_size(config);
    EXPECT_EQ(size.parameters, double(model.parameter_count()));
    EXPECT_EQ(size.buffers, double(buffers));
  }
  // i2v-tag 100 times as wide: about 330 G parameters, refused before anything is allocated.
  ZooOptions huge;
  huge.width = 100;
  EXPECT_GT(estimate_model_size(zoo_config("i2v-tag", huge)).parameters, 3e11);
  try {
    build_model(zoo_config("i2v-tag", huge));
    ADD_FAILURE() << "built";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("more than the"), std::string::npos) << e.message();
  }
}

TEST(ModelZoo, WidthAndInputSizeOptions) {
  ZooOptions small;
  small.width = 0.25;
  small.input_size = 64;
  small.outputs = 10;
  const Model tag = build_model(zoo_config("i2v-tag", small));
  EXPECT_EQ(tag.summary(2).back().output_shape, (Shape{2, 10}));
  const Model feature = build_model(zoo_config("i2v-feature", small));
  bool found = false;
  for (const LayerSummary& row : feature.summary(1))
    if (row.name == "encode1") {
      found = true;
      EXPECT_EQ(row.output_shape, (Shape{1, 4096})) << "the hash keeps 4,096 bits at any width";
    }
  EXPECT_TRUE(found);
  EXPECT_THROW(zoo_config("resnet9000"), Error);
}

TEST(ModelConfig, ClearErrors) {
  ZooOptions small;
  small.width = 0.125;
  small.input_size = 32;
  nlohmann::json config = zoo_config("i2v-tag", small);
  config["layers"][0]["type"] = "conv3d";
  try {
    build_model(config);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown type 'conv3d'"), std::string::npos) << e.what();
  }
  config = zoo_config("vgg11-fc", small);
  for (size_t i = 0; i < config["layers"].size(); ++i)
    if (config["layers"][i]["name"] == "flatten") config["layers"].erase(i);
  try {
    build_model(config);
    FAIL() << "a linear layer on an NCHW input must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add a flatten layer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace i2v
