// The i2v tool end to end on a tiny Danbooru-style dump made here: vocabulary, training, eval,
// tag, the i2v-feature model from the tagger, hash, search, forward/backward on every device
// (and against PyTorch when /usr/bin/python3 has it), class activation maps, and clear errors.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nn/npy.h"
#include "base/random.h"
#include "nn/safetensors.h"
#include "tests/temp_directory.h"
#include "base/atomic_file.h"
#include "data/image.h"

namespace i2v {
namespace {

using nlohmann::json;

struct ToolRun {
  int status = 0;
  std::string out, err;
};

class CliTest : public test::TempDirectoryTest {
 protected:
  // Runs `i2v ARGS` in the test's directory.
  ToolRun i2v(const std::string& args) {
    const std::string err_file = path("stderr.txt");
    const std::string command = fmt::format("cd '{}' && OMP_NUM_THREADS=1 '{}' {} 2>'{}'", dir_.string(), I2V_TOOL, args, err_file);
    ToolRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
    const int status = pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = read_file(err_file);
    return run;
  }

  ToolRun ok(const std::string& args) {
    ToolRun run = i2v(args);
    EXPECT_EQ(run.status, 0) << "i2v " << args << "\n" << run.err;
    return run;
  }

  // 36 posts of 24x24 pictures: a colour (general), a shape (character: circle or box) and a
  // background (copyright: alpha or beta), in original/<id mod 1000>/<id>.png.
  void make_dump() {
    std::ofstream metadata(path("metadata.jsonl"));
    const char* colours[] = {"red", "green", "blue"};
    for (int id = 1; id <= 36; ++id) {
      const int colour = id % 3, shape = (id / 3) % 2, background = (id / 6) % 2;
      Image image;
      image.width = image.height = 24;
      image.rgb.resize(24 * 24 * 3);
      for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 24; ++x) {
          const bool inside = shape == 0 ? (x - 12) * (x - 12) + (y - 12) * (y - 12) < 64 : (x > 5 && x < 18 && y > 5 && y < 18);
          uint8_t* p = image.pixel(x, y);
          for (int c = 0; c < 3; ++c)
            p[c] = inside ? (c == colour ? 230 : 30) : uint8_t(background ? 250 : (x + y) * 5);
        }
      const std::string file = fmt::format("original/{:04d}/{}.png", id % 1000, id);
      std::filesystem::create_directories(path(fmt::format("original/{:04d}", id % 1000)));
      save_png(path(file), image);
      metadata << json{{"id", id},
                       {"file_ext", "png"},
                       {"rating", "s"},
                       {"tag_string_general", std::string(colours[colour]) + (shape ? " square" : " round")},
                       {"tag_string_character", shape ? "box" : "circle"},
                       {"tag_string_copyright", background ? "beta" : "alpha"}}
                      .dump()
               << "\n";
    }
  }

  json train_config(const std::string& run, const std::string& model) const {
    return {{"run", run},
            {"seed", 2},
            {"model", {{"name", model}, {"width", 0.125}}},
            {"data",
             {{"metadata", {"metadata.jsonl"}},
              {"images", "."},
              {"vocab", "vocab.json"},
              {"preprocess", {{"size", 32}}},
              {"batch_size", 8},
              {"workers", 1}}},
            {"loss", {{"type", "bce_with_logits"}, {"reduction", "batch_mean"}}},
            {"schedule", {{"lr", 0.002}}},
            {"epochs", 2}};
  }
};

TEST_F(CliTest, TrainEvalTagHashSearchEndToEnd) {
  make_dump();
  ok("vocab build --metadata metadata.jsonl -o vocab.json");
  write_file_atomically(path("tag.json"), train_config("runs/tag", "i2v-tag").dump());
  const ToolRun train = ok("train --config tag.json");
  EXPECT_NE(train.out.find("trained after"), std::string::npos) << train.out;
  EXPECT_TRUE(std::filesystem::exists(path("runs/tag/best.safetensors")));
  EXPECT_NE(read_file(path("runs/tag/metrics.jsonl")).find("\"kind\":\"validation\""), std::string::npos);
  // Positive weights for rare tags: one for all, or one per output.
  const ToolRun weighted = ok("train --config tag.json --run runs/weighted --set loss.pos_weight=3 --set max_steps=2");
  EXPECT_NE(weighted.err.find("pos_weight["), std::string::npos) << weighted.err;
  ToolRun wrong = i2v("train --config tag.json --run runs/wrong --set loss.pos_weight=[1,2]");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("loss.pos_weight"), std::string::npos) << wrong.err;

  // eval: mAP per category and its baseline, as text and JSON.
  const ToolRun eval = ok("eval --run runs/tag --split all --json eval.json");
  EXPECT_NE(eval.out.find("baseline"), std::string::npos) << eval.out;
  const json report = json::parse(read_file(path("eval.json")));
  std::vector<std::string> categories;
  for (const json& c : report.at("categories")) categories.push_back(c.at("category"));
  EXPECT_EQ(categories, (std::vector<std::string>{"general", "character", "copyright", "rating", "all"}));

  // tag: the release's output shape, one entry per picture.
  const ToolRun tag = ok("tag original/0001/1.png original/0002/2.png --weights runs/tag/best.safetensors --format json");
  const json tags = json::parse(tag.out);
  ASSERT_EQ(tags.size(), 2u);
  for (const json& entry : tags) {
    EXPECT_TRUE(entry.at("image").is_string());
    for (const char* key : {"general", "character", "copyright"})
      for (const json& pair : entry.at(key)) EXPECT_GE(pair.at(1).get<double>(), 0.25) << key;
    EXPECT_EQ(entry.at("rating").size(), 3u);
  }

  // i2v-feature from the tagger, then 4,096-bit hashes and a search.
  json feature = train_config("runs/feature", "i2v-feature");
  feature["init"] = {{"weights", "runs/tag/best.safetensors"}};
  feature["epochs"] = 1;
  write_file_atomically(path("feature.json"), feature.dump());
  const ToolRun feature_run = ok("train --config feature.json");
  // The trunk comes from the tagger; encode1/encode2 are new; the tagger's conv6_4 is not used.
  EXPECT_NE(feature_run.err.find("init: 22 tensors from runs/tag/best.safetensors; 4 new (encode1.bias"),
            std::string::npos) << feature_run.err;
  EXPECT_NE(feature_run.err.find("2 in the file unused (conv6_4.bias, conv6_4.weight)"), std::string::npos)
      << feature_run.err;
  ok("hash --metadata metadata.jsonl --images . --vocab vocab.json --weights runs/feature/best.safetensors -o codes.npy");
  const NpyArray codes = read_npy(path("codes.npy"));
  EXPECT_EQ(codes.shape, (Shape{36, 512}));
  EXPECT_EQ(codes.type, NpyType::u8);
  ok("hash --metadata metadata.jsonl --images . --vocab vocab.json --weights runs/feature/best.safetensors -o codes.i2vcodes");
  const ToolRun search = ok("search 7 --store codes.i2vcodes --k 3");
  EXPECT_EQ(json::parse(search.out).at("results").size(), 3u) << search.out;

  // The class activation map of a tag.
  ok("cam original/0001/1.png --weights runs/tag/best.safetensors --tag round -o cam.png");
  EXPECT_EQ(load_image(path("cam.png")).width, 256);
}

TEST_F(CliTest, ForwardAndBackwardAgreeOnEveryDeviceAndWithPyTorch) {
  ok("weights init --model i2v-tag --width 0.125 --input-size 32 --outputs 5 --seed 4 -o w.safetensors");
  Rng rng(9);
  std::vector<float> x(2 * 3 * 32 * 32), t(2 * 5);
  for (float& v : x) v = float(rng.uniform());
  for (float& v : t) v = rng.coin() ? 1.0f : 0.0f;
  write_npy(path("x.npy"), Tensor::from_vector(x, {2, 3, 32, 32}));
  write_npy(path("t.npy"), Tensor::from_vector(t, {2, 5}));
  // The cpu, and the sim device in both precisions, compared normwise per tensor
  // (‖device − cpu‖ / ‖cpu‖). fp32: the same float operations in another order. tf32: every
  // product's operands rounded to 11 significant bits (tests/tensor_core_kernels_test.cpp checks that
  // arithmetic exactly); through a randomly initialised network the forward moves by ~1e-3, but
  // the gradients of the early layers move by up to ~10% (measured: 13% for conv2_1 at this size),
  // because ReLUs and max-pools whose inputs nearly tie flip under such rounding and send whole
  // gradient entries elsewhere — perturbing only the input by ±5e-4 already moves conv1_1's
  // gradient by 1.7% on the cpu. The bound catches a wrong kernel (errors of O(1)), not that.
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"cpu", "--device cpu"}, {"sim_fp32", "--device sim --precision fp32"}, {"sim_tf32", "--device sim --precision tf32"}};
  for (const auto& [name, options] : runs) {
    ok(fmt::format("forward --weights w.safetensors --input x.npy --output y_{}.npy {}", name, options));
    ok(fmt::format("backward --weights w.safetensors --input x.npy --target t.npy --output g_{}.safetensors {}", name,
                   options));
  }
  auto values = [&](const std::string& file) { return read_npy_tensor(path(file)).to_vector<float>(); };
  auto normwise = [](const std::vector<float>& a, const std::vector<float>& b) {
    double difference = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      difference += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
      norm += double(a[i]) * a[i];
    }
    return std::sqrt(difference / std::max(norm, 1e-300));
  };
  const std::vector<float> cpu = values("y_cpu.npy");
  const Safetensors g_cpu = load_safetensors(path("g_cpu.safetensors"));
  struct Allowed {
    std::string run;
    double output, gradients;
  };
  for (const Allowed& allowed : {Allowed{"sim_fp32", 1e-5, 1e-5}, Allowed{"sim_tf32", 1e-2, 0.3}}) {
    SCOPED_TRACE(allowed.run);
    const std::string& name = allowed.run;
    EXPECT_LE(normwise(cpu, values("y_" + name + ".npy")), allowed.output) << "output";
    const Safetensors g = load_safetensors(path("g_" + name + ".safetensors"));
    for (const auto& [tensor_name, tensor] : g_cpu.tensors)
      EXPECT_LE(normwise(tensor.to_vector<float>(), g.tensors.at(tensor_name).to_vector<float>()), allowed.gradients)
          << tensor_name;
  }

  // PyTorch, from the same config and weights (scripts/torch_reference.py).
  if (const std::string missing = test::python_missing("numpy, torch"); !missing.empty()) FAIL() << missing;
  const std::string script = std::string(I2V_SOURCE_DIR) + "/scripts/torch_reference.py";
  ASSERT_EQ(std::system(fmt::format("cd '{}' && /usr/bin/python3 '{}' forward w.safetensors x.npy y_torch.npy", dir_.string(),
                                    script).c_str()), 0);
  const std::vector<float> reference = values("y_torch.npy");
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(cpu[i], reference[i], 1e-5 + 1e-4 * std::fabs(reference[i]));
}

TEST_F(CliTest, FeaturesAndSvmsOfAnImageFolder) {
  // Three classes of 32x32 pictures: a red, green or blue square on a grey background.
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 10; ++i) {
      Image image;
      image.width = image.height = 32;
      image.rgb.assign(32 * 32 * 3, uint8_t(120 + 7 * i));
      for (int y = 4 + i % 5; y < 20 + i % 5; ++y)
        for (int x = 6 + i % 4; x < 22 + i % 4; ++x) image.pixel(x, y)[c] = 250;
      std::filesystem::create_directories(path(fmt::format("pictures/c{}", c)));
      save_png(path(fmt::format("pictures/c{}/{}.png", c, i)), image);
    }
  ok("weights init --model vgg19 --outputs 3 --width 0.0625 --input-size 32 -o vgg.safetensors");
  const ToolRun feature = ok("feature --weights vgg.safetensors --layer fc7 --folders pictures -o fc7.npy");
  EXPECT_NE(feature.out.find("layer classifier.4 of vgg19"), std::string::npos) << feature.out;
  const NpyArray features = read_npy(path("fc7.npy")), labels = read_npy(path("fc7.labels.npy"));
  EXPECT_EQ(features.type, NpyType::f32);
  EXPECT_EQ(features.shape, (Shape{30, 256}));
  EXPECT_EQ(labels.type, NpyType::i64);
  ASSERT_EQ(labels.shape, (Shape{30}));
  const json description = json::parse(read_file(path("fc7.json")));
  EXPECT_EQ(description.at("classes"), json({"c0", "c1", "c2"}));
  const int64_t* label = reinterpret_cast<const int64_t*>(labels.bytes.data());
  for (size_t i = 0; i < 30; ++i) {
    const std::string picture = description.at("pictures")[i].at("path");
    EXPECT_NE(picture.find(fmt::format("/c{}/", label[i])), std::string::npos) << picture;
  }
  // Pictures given as files have no label; a missing output folder is made.
  ok("feature pictures/c1 --weights vgg.safetensors --layer classifier.1 -o new/files.npy");
  EXPECT_EQ(read_npy(path("new/files.npy")).shape, (Shape{10, 256}));
  for (int64_t v : read_npy_tensor(path("new/files.labels.npy")).to_vector<int64_t>()) EXPECT_EQ(v, -1);

  ok("svm train --features fc7.npy --kernels rbf,sigmoid --C 1,10 --gamma 0.01 -o svm.safetensors");
  const ToolRun eval = ok("svm eval --svm svm.safetensors --features fc7.npy --split test -o test");
  EXPECT_NE(eval.out.find("global"), std::string::npos) << eval.out;
  const json table = json::parse(read_file(path("test.json")));
  EXPECT_EQ(table.at("test_pictures"), 6);
  EXPECT_EQ(table.at("rows")[0].at("top5"), 1.0);
  EXPECT_NE(read_file(path("test.classes.csv")).find("global,6,"), std::string::npos);

  ToolRun run = i2v("feature --weights vgg.safetensors --layer fc9 --folders pictures -o x.npy");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("no layer 'fc9'"), std::string::npos) << run.err;
}

TEST_F(CliTest, BadInputGivesOneClearLine) {
  ToolRun run = i2v("tag missing.png --weights nowhere.safetensors");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("i2v: error: "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("nowhere.safetensors"), std::string::npos) << run.err;
  write_file_atomically(path("bad.json"), std::string("{\"run\": \"r\", \"model\": {\"name\": \"i2v-taq\"}}"));
  run = i2v("train --config bad.json");
  EXPECT_EQ(run.status, 1);
  run = i2v("model summary --model i2v-taq");
  EXPECT_NE(run.err.find("unknown model 'i2v-taq'"), std::string::npos) << run.err;
  run = i2v("frobnicate");
  EXPECT_NE(run.status, 0);
  EXPECT_NE(run.err.find("frobnicate"), std::string::npos) << run.err;
}


TEST_F(CliTest, GcnTrainEvalAndArtistPairs) {
  make_dump();
  // The GCN paper's setting in small: general tags only, head at 10 x the backbone's rate,
  // random crops and flips; eval prints its Table 1 columns.
  ok("vocab build --metadata metadata.jsonl --general 6 --character 0 --copyright 0 --no-ratings -o vocab.json");
  json gcn = train_config("runs/gcn", "resnet14-gcn");
  gcn["data"]["augment"] = {{"crop", "random"}, {"hflip", true}};
  gcn["optimizer"] = {{"momentum", 0.9}, {"weight_decay", 1e-4},
                      {"layers", json::array({{{"pattern", "(sam|gcn|fuse)\\..*"}, {"lr_mult", 10}}})}};
  write_file_atomically(path("gcn.json"), gcn.dump());
  ok("train --config gcn.json");
  const ToolRun eval = ok("eval --run runs/gcn --split all");
  for (const char* column : {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1"})
    EXPECT_NE(eval.out.find(column), std::string::npos) << column << "\n" << eval.out;

  // The pictures by colour as three "artists".
  const char* colours[] = {"red", "green", "blue"};
  for (int id = 1; id <= 36; ++id) {
    std::filesystem::create_directories(path(fmt::format("art/{}", colours[id % 3])));
    std::filesystem::copy_file(path(fmt::format("original/{:04d}/{}.png", id % 1000, id)),
                               path(fmt::format("art/{}/{}.png", colours[id % 3], id)));
  }
  const ToolRun pairs =
      ok("artist pairs --data art --size 24 --crop quarters --epochs 1 --batch 8 --workers 1 --run runs/pairs");
  EXPECT_NE(pairs.out.find("pairwise test accuracy"), std::string::npos) << pairs.out;
  EXPECT_NE(pairs.out.find("all 3 artists"), std::string::npos) << pairs.out;
  const std::string csv = read_file(path("runs/pairs/pairs.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "artist,blue,green,red");
  EXPECT_EQ(json::parse(read_file(path("runs/pairs/pairs.json"))).at("pairs").size(), 3u);
  const ToolRun all = ok("eval --run runs/pairs/all --split test");
  EXPECT_NE(all.out.find("3 classes: top-1"), std::string::npos) << all.out;
}
}  // namespace
}  // namespace i2v
