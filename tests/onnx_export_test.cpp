// ONNX export (nn/onnx_export.h, train/onnx_formats.h): the protobuf writer's bytes, and every
// shipped model family exported and run in a real runtime — ONNX Runtime (onnxruntime-node,
// tests/onnx_runtime_run.js) — against i2v's own forward pass on the same pixels, with the file
// accepted by the ONNX checker (Debian's python3-onnx, full_check).
#include <sys/wait.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "base/protobuf_writer.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "tests/temp_directory.h"
#include "train/onnx_formats.h"

namespace i2v {
namespace {

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

TEST(ProtobufWriter, EncodesTheWireFormat) {
  ProtobufWriter message;
  message.add_varint(1, 150);  // the encoding guide's example: 08 96 01
  EXPECT_EQ(hex(message.bytes()), "089601");

  ProtobufWriter text;
  text.add_bytes(2, "testing");  // 12 07 74 65 73 74 69 6e 67
  EXPECT_EQ(hex(text.bytes()), "120774657374696e67");

  ProtobufWriter negative;
  negative.add_varint(3, -1);  // two's complement: ten bytes
  EXPECT_EQ(hex(negative.bytes()), "18ffffffffffffffffff01");

  ProtobufWriter floats;
  floats.add_float(2, 1.0f);  // fixed32, little-endian 0x3f800000
  EXPECT_EQ(hex(floats.bytes()), "150000803f");

  ProtobufWriter packed;
  packed.add_varints(4, {3, 270, 86942});  // the guide's packed example: 22 06 03 8e 02 9e a7 05
  EXPECT_EQ(hex(packed.bytes()), "2206038e029ea705");

  ProtobufWriter packed_floats;
  packed_floats.add_floats(5, {1.0f, -2.0f});
  EXPECT_EQ(hex(packed_floats.bytes()), "2a080000803f000000c0");

  ProtobufWriter outer;
  outer.add_message(3, message);  // 1a 03 08 96 01
  EXPECT_EQ(hex(outer.bytes()), "1a03089601");
}

// Runs `command`; returns its output, failing the test when it exits with a failure.
std::string run(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > '" + log + "' 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << text.str();
  return text.str();
}

class OnnxExport : public test::TempDirectoryTest {
 protected:
  void SetUp() override {
    TempDirectoryTest::SetUp();
    for (const std::string& missing : {test::onnx_runtime_missing(), test::python_missing("onnx")})
      ASSERT_TRUE(missing.empty()) << missing;
  }

  // The ONNX checker on `file`, then ONNX Runtime on `input`: its first output.
  Tensor run_onnx(const std::string& file, const Tensor& input) {
    run(fmt::format("/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('{}'), full_check=True)\"",
                    file),
        path("checker.log"));
    write_npy(path("input.npy"), input);
    run(test::onnx_runtime_command(file, path("input.npy"), path("output.npy")), path("runtime.log"));
    return read_npy_tensor(path("output.npy"));
  }

  // A picture batch as a camera gives it: [N, S, S, 3] RGB values 0-255.
  static Tensor random_pixels(int64_t batch, int64_t size, std::mt19937_64& rng) {
    return test::random_tensor({batch, size, size, 3}, rng, Device::cpu(), 0.0f, 255.0f);
  }

  // i2v's own input for those pixels (Preprocess::to_chw: channel order, scale, mean, std).
  static Tensor model_input(const Tensor& pixels, const Preprocess& preprocess) {
    const int64_t n = pixels.size(0), size = pixels.size(1);
    Tensor chw = Tensor::empty({n, 3, size, size});
    for (int64_t i = 0; i < n; ++i)
      preprocess.to_chw(pixels.data<float>() + i * size * size * 3, false, chw.data<float>() + i * 3 * size * size);
    return chw;
  }
};

// max |a − b| / max |b|: the tolerance the issue names is 1e-4 relative.
double relative_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, double(std::fabs(x[i] - y[i])));
    scale = std::max(scale, double(std::fabs(y[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// BatchNorm's running statistics drawn at random, so that the exported normalisation is checked
// on values other than mean 0 and variance 1.
void randomise_buffers(Model& model, std::mt19937_64& rng) {
  for (auto& [name, buffer] : model.buffers()) {
    if (buffer->dtype() != DType::f32) continue;
    const bool variance = name.find("running_var") != std::string::npos;
    *buffer = test::random_tensor(buffer->shape(), rng, Device::cpu(), variance ? 0.5f : -0.5f, variance ? 2.0f : 0.5f);
  }
}

TrainedModel trained_model(const nlohmann::json& config, const Preprocess& preprocess, std::mt19937_64& rng) {
  TrainedModel trained;
  trained.model = std::make_unique<Model>(build_model(config));
  trained.model->initialize(rng());
  randomise_buffers(*trained.model, rng);
  trained.preprocess = preprocess;
  trained.preprocess.size = int(config["input"][1]);
  return trained;
}

nlohmann::json small_zoo_config(const std::string& name, int64_t input_size, double width, int64_t outputs) {
  ZooOptions options;
  options.input_size = input_size;
  options.width = width;
  options.outputs = outputs;
  return zoo_config(name, options);
}

struct ExportCase {
  std::string name;
  nlohmann::json config;
};

// Every layer type that exports appears in one of these: conv2d, relu, max_pool2d,
// global_avg_pool (i2v-tag); flatten, linear, sigmoid (i2v-feature); dropout (vgg19);
// batch_norm2d, add (the ResNets); the rest in "every-other-layer".
std::vector<ExportCase> export_cases() {
  auto zoo = [](const std::string& name, double width, int64_t outputs) {
    return ExportCase{name, small_zoo_config(name, 64, width, outputs)};
  };
  const nlohmann::json others = nlohmann::json::parse(R"({
    "name": "every-other-layer", "input": [3, 24, 24], "outputs": 6,
    "layers": [
      {"name": "conv", "type": "conv2d", "out_channels": 8, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0]},
      {"name": "leaky", "type": "leaky_relu", "slope": 0.2},
      {"name": "avg", "type": "avg_pool2d", "kernel": 3, "stride": 2, "padding": 1, "ceil_mode": true,
       "count_include_pad": false},
      {"name": "side", "type": "conv2d", "out_channels": 4, "kernel": 1, "bias": false, "inputs": ["avg"]},
      {"name": "joined", "type": "concat", "inputs": ["avg", "side"]},
      {"name": "half", "type": "scale", "factor": 0.5},
      {"name": "gmax", "type": "global_max_pool"},
      {"name": "fc", "type": "linear", "out_features": "outputs", "bias": false},
      {"name": "softmax", "type": "softmax"}
    ]})");
  return {zoo("i2v-tag", 0.125, 20),   zoo("i2v-feature", 0.125, 20), zoo("vgg19", 0.125, 10),
          zoo("resnet18", 0.25, 10),  zoo("resnet50", 0.125, 10),    zoo("artist-conv2d", 1, 10),
          {"every-other-layer", others}};
}

TEST_F(OnnxExport, EveryModelRunsInOnnxRuntimeAsInI2v) {
  std::mt19937_64 rng = test::test_rng();
  for (const ExportCase& c : export_cases()) {
    SCOPED_TRACE(c.name);
    // The release's preprocessing (BGR, minus a mean) and a std: every step of the input stage.
    Preprocess preprocess = Preprocess::i2v();
    preprocess.std = {2.0f, 0.5f, 1.5f};
    TrainedModel trained = trained_model(c.config, preprocess, rng);
    const std::vector<std::string> files = export_onnx(trained, path(c.name + ".onnx"), OnnxFormat::i2v);
    ASSERT_EQ(files.size(), 1u);  // no output names: no tag list

    const Tensor pixels = random_pixels(3, trained.model->input_shape()[1], rng);
    const Tensor expected = trained.model->forward(model_input(pixels, trained.preprocess), Mode::eval);
    const Tensor got = run_onnx(files[0], pixels.permute({0, 3, 1, 2}).contiguous());
    const double difference = relative_difference(got, expected);
    std::printf("%s: ONNX Runtime against i2v, max |difference| / max |i2v| = %.2g\n", c.name.c_str(), difference);
    EXPECT_LE(difference, 1e-4);
  }
}

TEST_F(OnnxExport, WdFormatTakesBgrPixelsAndListsTheTagsAsTheWdTaggers) {
  std::mt19937_64 rng = test::test_rng();
  TrainedModel trained = trained_model(small_zoo_config("i2v-tag", 32, 0.125, 9), Preprocess::i2v(), rng);
  trained.multi_label = true;
  // i2v's vocabulary order (general, character, copyright, rating), one name with a comma.
  trained.outputs = {{"1girl", "general"},        {"long_hair", "general"},  {"hatsune_miku", "character"},
                     {"smile", "general"},        {"vocaloid", "copyright"}, {"a,b", "general"},
                     {"safe", "rating"},          {"questionable", "rating"}, {"explicit", "rating"}};
  const std::vector<std::string> files = export_onnx(trained, path("wd"), OnnxFormat::wd);
  ASSERT_EQ(files, (std::vector<std::string>{path("wd/model.onnx"), path("wd/selected_tags.csv")}));

  std::ifstream csv(files[1]);
  std::stringstream text;
  text << csv.rdbuf();
  EXPECT_EQ(text.str(),
            "tag_id,name,category,count\n"
            "6,safe,9,0\n7,questionable,9,0\n8,explicit,9,0\n"
            "0,1girl,0,0\n1,long_hair,0,0\n3,smile,0,0\n5,\"a,b\",0,0\n"
            "2,hatsune_miku,4,0\n4,vocaloid,4,0\n");

  // The WD tools hand NHWC BGR 0-255; the graph gives probabilities in the CSV's order.
  const Tensor pixels = random_pixels(2, 32, rng);
  Tensor bgr = pixels.clone();
  for (int64_t p = 0; p < pixels.numel() / 3; ++p) std::swap(bgr.data<float>()[3 * p], bgr.data<float>()[3 * p + 2]);
  const Tensor logits = trained.model->forward(model_input(pixels, trained.preprocess), Mode::eval);
  const std::vector<int64_t> order{6, 7, 8, 0, 1, 3, 5, 2, 4};
  Tensor expected = Tensor::empty({2, 9});
  for (int64_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < order.size(); ++j)
      expected.data<float>()[i * 9 + int64_t(j)] = 1.0f / (1.0f + std::exp(-logits.item<float>({i, order[j]})));
  EXPECT_LE(relative_difference(run_onnx(files[0], bgr), expected), 1e-4);
}

TEST_F(OnnxExport, RefusesWhatItCannotWrite) {
  std::mt19937_64 rng = test::test_rng();
  TrainedModel gcn = trained_model(small_zoo_config("resnet18-gcn", 64, 0.125, 5), Preprocess{}, rng);
  test::expect_error_containing([&] { export_onnx(gcn, path("gcn.onnx"), OnnxFormat::i2v); },
                                "has no ONNX form");
  TrainedModel features = trained_model(small_zoo_config("vgg19", 64, 0.125, 5), Preprocess{}, rng);
  features.multi_label = false;
  test::expect_error_containing([&] { export_onnx(features, path("wd"), OnnxFormat::wd); },
                                "the WD format is a tagger's");
  EXPECT_FALSE(std::filesystem::exists(path("gcn.onnx")));
  EXPECT_FALSE(std::filesystem::exists(path("wd")));
}

}  // namespace
}  // namespace i2v
