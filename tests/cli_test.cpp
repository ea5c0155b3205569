// The i2v tool end to end on a tiny Danbooru-style dump made here: vocabulary, training, eval,
// tag, the i2v-feature model from the tagger, hash, search, forward/backward on every device
// (and against PyTorch when /usr/bin/python3 has it), class activation maps, and clear errors.
#include <algorithm>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "nn/npy.h"
#include "base/random.h"
#include "train/checkpoint.h"
#include "nn/safetensors.h"
#include "tests/layer_check.h"
#include "tests/temp_directory.h"
#include "tests/tool_run.h"
#include "base/atomic_file.h"
#include "data/image.h"
#include "data/vocabulary.h"
#include "train/checkpoint.h"

namespace i2v {
namespace {

using nlohmann::json;

using test::ToolRun;

class CliTest : public test::TempDirectoryTest {
 protected:
  // Runs `i2v ARGS` in the test's directory (or in its folder `in`).
  ToolRun i2v(const std::string& args, const std::string& in = "") {
    return test::run_tool(I2V_TOOL, (dir_ / in).string(), args);
  }

  ToolRun ok(const std::string& args, const std::string& in = "") {
    ToolRun run = i2v(args, in);
    EXPECT_EQ(run.status, 0) << "i2v " << args << "\n" << run.err;
    return run;
  }

  // 36 posts of 24x24 pictures: a colour (general), a shape (character: circle or box) and a
  // background (copyright: alpha or beta), in original/<id mod 1000>/<id>.png; without `ratings`,
  // no post has a rating.
  void make_dump(bool ratings = true) {
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
      json post = {{"id", id},
                   {"file_ext", "png"},
                   {"rating", "s"},
                   {"tag_string_general", std::string(colours[colour]) + (shape ? " square" : " round")},
                   {"tag_string_character", shape ? "box" : "circle"},
                   {"tag_string_copyright", background ? "beta" : "alpha"}};
      if (!ratings) post.erase("rating");
      metadata << post.dump() << "\n";
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
  // (Traced: --trace on train records its steps, layers and kernels; tests/trace_test.py checks
  // the trace itself.)
  const ToolRun weighted =
      ok("train --config tag.json --run runs/weighted --set loss.pos_weight=3 --set max_steps=2 --trace train.jsonl");
  EXPECT_NE(weighted.err.find("pos_weight["), std::string::npos) << weighted.err;
  EXPECT_NE(weighted.err.find("kernel launches"), std::string::npos) << weighted.err;
  const std::string trace = read_file(path("train.jsonl"));
  size_t steps = 0;
  for (size_t at = trace.find("\"name\":\"train_step\""); at != std::string::npos;
       at = trace.find("\"name\":\"train_step\"", at + 1))
    ++steps;
  EXPECT_EQ(steps, 2u);
  EXPECT_NE(trace.find("\"name\":\"sgd_step\""), std::string::npos);  // the optimizer's kernel
  EXPECT_NE(trace.find("\"name\":\"conv1_1.backward\""), std::string::npos);
  ToolRun wrong = i2v("train --config tag.json --run runs/wrong --set loss.pos_weight=[1,2]");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("loss.pos_weight"), std::string::npos) << wrong.err;

  // The run's config.json names its files relative to the run directory, so the run works from
  // any current directory.
  const json saved = json::parse(read_file(path("runs/tag/config.json")));
  EXPECT_EQ(saved.at("data").at("images"), "../..");
  EXPECT_EQ(saved.at("data").at("vocab"), "../../vocab.json");
  std::filesystem::create_directories(path("elsewhere"));
  const ToolRun from_elsewhere = ok(fmt::format("eval --run '{}' --split all", path("runs/tag")), "elsewhere");
  EXPECT_NE(from_elsewhere.out.find("baseline"), std::string::npos) << from_elsewhere.out;
  // A run continues with its own config.json, from anywhere (it has finished: nothing to train).
  EXPECT_NE(ok("train --run ../runs/tag --resume", "elsewhere").err.find("resuming from"), std::string::npos);
  ok("train --config ../runs/tag/config.json --resume", "elsewhere");
  EXPECT_EQ(json::parse(read_file(path("runs/tag/config.json"))), saved);

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

  // caption: a .txt beside each picture, the same whether tagged one by one or in batches;
  // --append adds only what a caption lacks, after what it holds.
  const std::string captioner = "caption original/0001 --weights runs/tag/best.safetensors --general-threshold 0.2 ";
  ok(captioner + "--batch 1 --caption-extension .single");
  const ToolRun caption = ok(captioner + "--batch 7 --scores scores.jsonl");
  EXPECT_NE(caption.out.find("captioned"), std::string::npos) << caption.out;
  ok(captioner + "--rating --append --caption-extension .single");
  size_t captions = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path("original/0001"))) {
    if (entry.path().extension() != ".txt") continue;
    ++captions;
    const std::string batched = read_file(entry.path().string());
    const std::string appended = read_file(std::filesystem::path(entry.path()).replace_extension(".single").string());
    ASSERT_GT(batched.size(), 1u) << entry.path();  // tags, then a newline
    EXPECT_EQ(appended.rfind(batched.substr(0, batched.size() - 1) + ", ", 0), 0u) << batched << appended;
    EXPECT_NE(appended.find("safe"), std::string::npos) << appended;
  }
  EXPECT_GT(captions, 0u);
  const std::string scores = read_file(path("scores.jsonl"));
  EXPECT_EQ(size_t(std::count(scores.begin(), scores.end(), '\n')), captions);

  // export onnx: the plain file with its tag list; the WD format checked as those tools use it —
  // a non-square picture padded to a white square, resized and handed over as BGR NHWC
  // (tests/wd_preprocess.py) gives in ONNX Runtime, tag by tag as selected_tags.csv names them, the
  // probabilities `i2v tag` gives for the same pixels.
  ok("export onnx --weights runs/tag/best.safetensors -o tag.onnx");
  EXPECT_EQ(read_file(path("tag.tags.csv")).rfind("index,name,category\n0,", 0), 0u);
  const ToolRun wd = ok("export onnx --weights runs/tag/best.safetensors --format wd -o wd");
  EXPECT_NE(wd.err.find("3 rating outputs; kohya-ss's"), std::string::npos) << wd.err;
  for (const std::string& missing : {test::python_missing("numpy, PIL"), test::onnx_runtime_missing()})
    ASSERT_TRUE(missing.empty()) << missing;
  const std::string prepare = fmt::format("cd '{}' && /usr/bin/python3 '{}/tests/wd_preprocess.py' original/0003/3.png 32 "
                                          "padded.png wd_input.npy 24 15 && {}", dir_.string(), I2V_SOURCE_DIR,
                                          test::onnx_runtime_command("wd/model.onnx", "wd_input.npy", "wd_output.npy"));
  ASSERT_EQ(std::system(prepare.c_str()), 0) << prepare;
  const json tagged = json::parse(ok("tag padded.png --weights runs/tag/best.safetensors --threshold 0 --format json").out);
  std::map<std::string, float> by_i2v;
  for (const char* category : {"general", "character", "copyright", "rating"})
    for (const json& tag : tagged.at(0).at(category)) by_i2v[tag[0].get<std::string>()] = tag[1].get<float>();
  const std::vector<float> by_runtime = read_npy_tensor(path("wd_output.npy")).to_vector<float>();
  std::istringstream rows(read_file(path("wd/selected_tags.csv")));
  std::string row;
  std::getline(rows, row);
  EXPECT_EQ(row, "tag_id,name,category,count");
  size_t listed = 0;
  for (; std::getline(rows, row); ++listed) {
    const std::string name = row.substr(row.find(',') + 1, row.find(',', row.find(',') + 1) - row.find(',') - 1);
    ASSERT_TRUE(by_i2v.count(name)) << row;
    ASSERT_LT(listed, by_runtime.size());
    // Same pixels, same network: within 1e-7 here. (RGB handed over for BGR: off by 1.4e-4 on this
    // barely trained tagger, whose probabilities are all near 0.5.)
    EXPECT_NEAR(by_runtime[listed], by_i2v[name], 1e-5) << row;
  }
  EXPECT_EQ(listed, by_runtime.size());
  EXPECT_EQ(listed, by_i2v.size());

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
  // The store keeps its pictures' paths relative to itself: the sheet draws them from anywhere.
  const ToolRun sheet = ok("search 7 --store ../codes.i2vcodes --k 3 --sheet sheet.png", "elsewhere");
  EXPECT_EQ(json::parse(sheet.out).at("unreadable_images").size(), 0u) << sheet.out << sheet.err;
  // An output that is one of the pictures the command reads is refused before the work.
  const std::string picture = read_file(path("original/0001/1.png"));
  ToolRun onto_input = i2v("hash original --weights runs/feature/best.safetensors -o original/0001/1.png --force");
  EXPECT_EQ(onto_input.status, 1);
  EXPECT_NE(onto_input.err.find("-o original/0001/1.png is a file inside the picture original"), std::string::npos)
      << onto_input.err;
  EXPECT_EQ(read_file(path("original/0001/1.png")), picture);
  // A missing output folder is made before the work (eval used to fail after it, naming a
  // temporary file); an output that cannot be written is refused before the report is printed.
  ok("eval --run runs/tag --split all --json new/folder/eval.json");
  EXPECT_TRUE(json::parse(read_file(path("new/folder/eval.json"))).is_object());
  ASSERT_EQ(::mkfifo(path("pipe.json").c_str(), 0644), 0);
  const ToolRun into_fifo = i2v("eval --run runs/tag --split all --json pipe.json");
  EXPECT_EQ(into_fifo.status, 1);
  EXPECT_EQ(into_fifo.out, "") << "the report came before the refusal";
  EXPECT_NE(into_fifo.err.find("--json pipe.json: is a FIFO"), std::string::npos) << into_fifo.err;

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
  // gradient by 1.7% on the cpu. The bound catches a wrong kernel (errors of O(1)), not that;
  // tests/model_devices_test.cpp compares every zoo model with float64 per layer and end to end.
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"cpu", "--device cpu"}, {"sim_fp32", "--device sim --precision fp32"}, {"sim_tf32", "--device sim --precision tf32"}};
  for (const auto& [name, options] : runs) {
    ok(fmt::format("forward --weights w.safetensors --input x.npy --output y_{}.npy {}", name, options));
    ok(fmt::format("backward --weights w.safetensors --input x.npy --target t.npy --output g_{}.safetensors {}", name,
                   options));
  }
  auto values = [&](const std::string& file) { return read_npy_tensor(path(file)).to_vector<float>(); };
  const std::vector<float> cpu = values("y_cpu.npy");
  const Safetensors g_cpu = load_safetensors(path("g_cpu.safetensors"));
  struct Allowed {
    std::string run;
    double output, gradients;
  };
  for (const Allowed& allowed : {Allowed{"sim_fp32", 1e-5, 1e-5}, Allowed{"sim_tf32", 1e-2, 0.3}}) {
    SCOPED_TRACE(allowed.run);
    const std::string& name = allowed.run;
    test::expect_normwise_close("output", read_npy_tensor(path("y_" + name + ".npy")), read_npy_tensor(path("y_cpu.npy")),
                                allowed.output);
    const Safetensors g = load_safetensors(path("g_" + name + ".safetensors"));
    for (const auto& [tensor_name, tensor] : g_cpu.tensors)
      test::expect_normwise_close(tensor_name, g.tensors.at(tensor_name), tensor, allowed.gradients);
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
  // The paper's 64/16/20 split (the default is every command's 0.8,0.1,0.1).
  const ToolRun feature =
      ok("feature --weights vgg.safetensors --layer fc7 --folders pictures --split-fractions 0.64,0.16,0.2 -o fc7.npy");
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

// `weights convert` writes the floating-point tensors as bf16 (rounded as the hardware does) and
// back as f32 (widened exactly); a model given the bf16 file computes exactly what it computes
// from the widened f32 file, and tells the person that the weights were widened.
TEST_F(CliTest, WeightsConvertToBf16AndBack) {
  ok("weights init --model i2v-tag --width 0.125 --input-size 32 --outputs 5 --seed 4 -o w.safetensors");
  const ToolRun convert = ok("weights convert w.safetensors -o w16.safetensors --dtype bf16");
  EXPECT_NE(convert.out.find("converted to bf16"), std::string::npos) << convert.out;
  ok("weights convert w16.safetensors -o w32.safetensors --dtype f32");

  const SafetensorsFile original(path("w.safetensors")), narrow(path("w16.safetensors")), wide(path("w32.safetensors"));
  EXPECT_EQ(narrow.metadata(), original.metadata());
  EXPECT_LT(narrow.file_bytes(), original.file_bytes() * 6 / 10);
  ASSERT_EQ(narrow.entries().size(), original.entries().size());
  for (const SafetensorsEntry& entry : original.entries()) {
    ASSERT_EQ(entry.dtype, "F32") << entry.name;
    EXPECT_EQ(narrow.entry(entry.name).dtype, "BF16") << entry.name;
    EXPECT_EQ(wide.entry(entry.name).dtype, "F32") << entry.name;
    const std::vector<float> values = original.read(entry).to_vector<float>();
    const std::vector<bfloat16> rounded = narrow.read(entry.name).to_vector<bfloat16>();
    const std::vector<float> widened = wide.read(entry.name).to_vector<float>();
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(rounded[i].bits, to_bf16(values[i])) << entry.name << "[" << i << "]";
      ASSERT_EQ(widened[i], bf16_value(rounded[i].bits)) << entry.name << "[" << i << "]";
    }
  }
  EXPECT_NE(ok("weights show --stats w16.safetensors").out.find("BF16"), std::string::npos);

  Rng rng(3);
  std::vector<float> x(2 * 3 * 32 * 32);
  for (float& v : x) v = float(rng.uniform());
  write_npy(path("x.npy"), Tensor::from_vector(x, {2, 3, 32, 32}));
  const ToolRun from_bf16 = ok("forward --weights w16.safetensors --input x.npy --output y16.npy");
  EXPECT_NE(from_bf16.err.find("note: w16.safetensors holds"), std::string::npos) << from_bf16.err;
  EXPECT_NE(from_bf16.err.find("widened exactly to the model's f32 parameters"), std::string::npos) << from_bf16.err;
  const ToolRun from_f32 = ok("forward --weights w32.safetensors --input x.npy --output y32.npy");
  EXPECT_EQ(from_f32.err.find("note:"), std::string::npos) << from_f32.err;
  ok("forward --weights w.safetensors --input x.npy --output y.npy");
  const std::vector<float> y16 = read_npy_tensor(path("y16.npy")).to_vector<float>();
  EXPECT_EQ(y16, read_npy_tensor(path("y32.npy")).to_vector<float>());
  const std::vector<float> y = read_npy_tensor(path("y.npy")).to_vector<float>();
  double difference = 0, norm = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    difference += (double(y16[i]) - y[i]) * (double(y16[i]) - y[i]);
    norm += double(y[i]) * y[i];
  }
  // Each weight moves by at most 2^-9 of itself; the output, by about as much, not more.
  EXPECT_LT(std::sqrt(difference / norm), 0.05);

  ToolRun run = i2v("weights convert w.safetensors -o ./w.safetensors --dtype bf16");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("is the input file"), std::string::npos) << run.err;
  EXPECT_EQ(read_file(path("w.safetensors")).size(), original.file_bytes());
  run = i2v("weights convert w.safetensors -o w8.safetensors --dtype f8");
  EXPECT_NE(run.status, 0);
  EXPECT_FALSE(std::filesystem::exists(path("w8.safetensors")));
  save_checkpoint(path("c.i2vckpt"), Checkpoint{{{"w", Tensor::zeros({2})}}, json::object()});
  run = i2v("weights convert c.i2vckpt -o c16.safetensors --dtype bf16");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("is a training checkpoint"), std::string::npos) << run.err;
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


// Where no GPU answers (this build without CUDA, or CI's nvcc build on a machine without a GPU
// or driver), asking for the cuda device is refused as the device is chosen, before any file is
// read, saying why and what `i2v devices` reports: not an "out of memory" at the first allocation.
TEST_F(CliTest, CudaWithoutAUsableDeviceIsRefusedUpFront) {
  const ToolRun devices = ok("devices");
  const std::string unavailable = "cuda  unavailable: ";
  const size_t at = devices.out.find(unavailable);
  if (at == std::string::npos) return;  // a GPU answers: nothing to refuse
  const std::string reason = devices.out.substr(at + unavailable.size(), devices.out.find('\n', at) - at - unavailable.size());
  write_file_atomically(path("train.json"), train_config("runs/cuda", "i2v-tag").dump());
  for (const std::string& command :
       {std::string("tag missing.png --weights nowhere.safetensors --device cuda"),
        std::string("search 1 --store nowhere.i2vcodes --device cuda"),
        std::string("index graph --store nowhere.i2vcodes -o g.i2vgraph --device cuda"),
        std::string("forward --weights nowhere.safetensors --input x.npy --output y.npy --device cuda"),
        std::string("train --config train.json --set device=cuda")}) {
    SCOPED_TRACE(command);
    const ToolRun run = i2v(command);
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.err.find("no usable CUDA device"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find(reason), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("`i2v devices` reports"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("out of memory"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("nowhere"), std::string::npos) << "a file was read before the device was checked: " << run.err;
    EXPECT_EQ(run.err.find("metadata.jsonl"), std::string::npos) << run.err;
  }
}

// forward/backward honour --input-size, --width and --outputs with --weights, or refuse them
// with the reason; error hints name only options the command has.
TEST_F(CliTest, ModelOptionsWithWeightsAreHonouredOrRefused) {
  ok("weights init --model resnet18 --width 0.125 --outputs 3 --input-size 32 -o r.safetensors");
  Rng rng(3);
  std::vector<float> x(2 * 3 * 96 * 96);
  for (float& v : x) v = float(rng.uniform());
  write_npy(path("x96.npy"), Tensor::from_vector(x, {2, 3, 96, 96}));
  write_npy(path("t.npy"), Tensor::from_vector(std::vector<float>{1, 0, 1, 0, 1, 0}, {2, 3}));
  // The file's model at another input size (global pooling: the weights still fit).
  ok("forward --weights r.safetensors --input-size 96 --input x96.npy --output y.npy");
  EXPECT_EQ(read_npy(path("y.npy")).shape, (Shape{2, 3}));
  // A model named on the command line is built as its options say.
  ok("forward --model resnet18 --width 0.125 --outputs 3 --input-size 96 --weights r.safetensors --input x96.npy "
     "--output y2.npy");
  EXPECT_EQ(read_npy_tensor(path("y.npy")).to_vector<float>(), read_npy_tensor(path("y2.npy")).to_vector<float>());
  ok("backward --model resnet18 --width 0.125 --input-size 96 --weights r.safetensors --input x96.npy --target t.npy "
     "--output g.safetensors");
  // Without --input-size the batch does not fit, and the hint names an option that works.
  ToolRun run = i2v("forward --weights r.safetensors --input x96.npy --output y.npy");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("--input-size"), std::string::npos) << run.err;
  // What cannot apply to the file's model is refused, not ignored.
  run = i2v("forward --weights r.safetensors --width 0.5 --input-size 96 --input x96.npy --output y.npy");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("--width sizes a model given by --model"), std::string::npos) << run.err;
  run = i2v("backward --weights r.safetensors --outputs 7 --input-size 96 --input x96.npy --target t.npy --output g.safetensors");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("--outputs sizes a model given by --model"), std::string::npos) << run.err;
  run = i2v("forward --weights r.safetensors --seed 5 --input-size 96 --input x96.npy --output y.npy");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("--seed initialises a model without --weights"), std::string::npos) << run.err;

  // Weights that do not record their model: "--model" only where the command has it.
  Safetensors bare = load_safetensors(path("r.safetensors"));
  bare.metadata.clear();
  save_safetensors(path("bare.safetensors"), bare);
  Image picture;
  picture.width = picture.height = 8;
  picture.rgb.assign(8 * 8 * 3, 99);
  save_png(path("p.png"), picture);
  for (const std::string& command : {std::string("forward --weights bare.safetensors --input x96.npy --output y.npy"),
                                     std::string("feature p.png --weights bare.safetensors --layer fc -o f.npy")}) {
    run = i2v(command);
    EXPECT_EQ(run.status, 1) << command;
    EXPECT_NE(run.err.find("name one with --model"), std::string::npos) << command << "\n" << run.err;
  }
  for (const std::string& command : {std::string("tag p.png --weights bare.safetensors"),
                                     std::string("hash p.png --weights bare.safetensors -o c.npy"),
                                     std::string("cam p.png --weights bare.safetensors --tag x -o cam.png")}) {
    run = i2v(command);
    EXPECT_EQ(run.status, 1) << command;
    EXPECT_NE(run.err.find("does not say which model it holds"), std::string::npos) << command << "\n" << run.err;
    EXPECT_EQ(run.err.find("--model"), std::string::npos) << command << " has no --model:\n" << run.err;
  }
}

// Values out of an option's or a config field's range are refused as the command line or the
// config is read, saying the range; a model too large for memory is refused with both sizes;
// non-finite weights load with a warning naming them.
TEST_F(CliTest, NonsenseValuesAreRefusedWithTheirRange) {
  struct Refused {
    std::string command, message;
  };
  write_file_atomically(path("train.json"), train_config("runs/range", "i2v-tag").dump());
  for (const Refused& refused : {
           Refused{"search 1 --store s.i2vcodes --k 0", "--k: must be at least 1, got 0"},
           Refused{"index knn --store s.i2vcodes --k -1 -o k.npy", "--k: must be at least 1, got -1"},
           Refused{"tag p.png --weights w.safetensors --threshold nan", "--threshold: must be between 0 and 1, got nan"},
           Refused{"tag p.png --weights w.safetensors --threshold 2", "--threshold: must be between 0 and 1, got 2"},
           Refused{"tag p.png --weights w.safetensors --threshold -1", "--threshold: must be between 0 and 1, got -1"},
           Refused{"tag p.png --weights w.safetensors --limit -1", "--limit: must be at least 0, got -1"},
           Refused{"model summary --model i2v-tag --width 0", "--width: must be above 0, got 0"},
           Refused{"data preview --folders f --size 0 -o p.png", "--size: must be at least 1, got 0"},
           Refused{"train --config train.json --set epochs=1e30", "config field epochs: must be a whole number"},
           Refused{"train --config train.json --set epochs=2.5", "config field epochs: must be a whole number"},
           Refused{"train --config train.json --set max_steps=-5", "config field max_steps: must be at least 0, got -5"},
           Refused{"train --config train.json --set data.batch_size=0", "config field data.batch_size: must be at least 1"},
           Refused{"train --config train.json --set optimizer.momentum=2", "config field optimizer.momentum: must be between 0 and 1"},
           Refused{"weights init --model i2v-tag --width 100 -o big.safetensors", "of memory available here"},
       }) {
    SCOPED_TRACE(refused.command);
    const ToolRun run = i2v(refused.command);
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.err.find(refused.message), std::string::npos) << run.err;
    EXPECT_LT(run.err.size(), 400u) << run.err;
  }
  EXPECT_FALSE(std::filesystem::exists(path("big.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(path("runs/range")));

  // A NaN and an infinity in a weight file: used, with a warning that names them.
  ok("weights init --model i2v-tag --width 0.125 --input-size 32 --outputs 5 -o w.safetensors");
  Safetensors weights = load_safetensors(path("w.safetensors"));
  float* conv = weights.tensors.at("conv1_1.weight").data<float>();
  conv[0] = NAN;
  conv[5] = INFINITY;
  save_safetensors(path("nan.safetensors"), weights);
  write_npy(path("x.npy"), Tensor::from_vector(std::vector<float>(3 * 32 * 32, 0.5f), {1, 3, 32, 32}));
  const ToolRun run = ok("forward --weights nan.safetensors --input x.npy --output y.npy");
  EXPECT_NE(run.err.find("warning: nan.safetensors holds non-finite values"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("conv1_1.weight (1 NaN, 1 infinite of 216 values)"), std::string::npos) << run.err;
  EXPECT_EQ(ok("forward --weights w.safetensors --input x.npy --output y.npy").err.find("warning"), std::string::npos);
}

// When every metadata line is skipped, the error gives the reasons' counts, the first lines and
// the likely fix; --report lists every skipped line and picture, where summaries show 5.
TEST_F(CliTest, SkippedLinesAndPicturesAreExplainedAndReportedInFull) {
  make_dump(/*ratings=*/false);
  ok("vocab build --metadata metadata.jsonl -o vocab.json");  // with rating outputs, by default
  write_file_atomically(path("tag.json"), train_config("runs/tag", "i2v-tag").dump());
  auto lines_of = [&](const std::string& file) {
    std::vector<std::string> lines;
    std::istringstream text(read_file(path(file)));
    for (std::string line; std::getline(text, line);) lines.push_back(line);
    return lines;
  };
  for (const std::string& command :
       {std::string("data check --metadata metadata.jsonl --images . --vocab vocab.json --report check.txt"),
        std::string("train --config tag.json --report train.txt")}) {
    SCOPED_TRACE(command);
    const ToolRun run = i2v(command);
    EXPECT_EQ(run.status, 1);
    for (const char* expected : {"no usable post in the metadata", "0 read, 36 skipped (unknown rating 36)",
                                 "first 5 skipped:", "metadata.jsonl:1: unknown rating: id 1: no rating",
                                 "likely fix: no line has a rating", "i2v vocab build --no-ratings"})
      EXPECT_NE(run.err.find(expected), std::string::npos) << expected << "\n" << run.err;
    const std::vector<std::string> report = lines_of(command.substr(command.rfind(' ') + 1));
    ASSERT_EQ(report.size(), 37u);  // a header and every line
    EXPECT_EQ(report[36], "metadata.jsonl:36\tunknown rating\tid 36: no rating in a legacy dump");
  }
  // The fix works; then 7 missing pictures: 5 in the summary, all 7 in the report.
  ok("vocab build --metadata metadata.jsonl --no-ratings -o vocab.json --force");
  for (int id = 1; id <= 7; ++id) std::filesystem::remove(path(fmt::format("original/{:04d}/{}.png", id, id)));
  const ToolRun check = ok("data check --metadata metadata.jsonl --images . --vocab vocab.json --report check.txt");
  EXPECT_NE(check.out.find("pictures: 29 read, 7 skipped (missing file 7)\n  first 5 skipped:"), std::string::npos)
      << check.out;
  const std::vector<std::string> report = lines_of("check.txt");
  ASSERT_EQ(report.size(), 8u);
  for (int id = 1; id <= 7; ++id)
    EXPECT_EQ(report[size_t(id)].rfind(fmt::format("id {} (original/{:04d}/{}.png)\tmissing file\t", id, id, id), 0), 0u)
        << report[size_t(id)];
}

// i2v inspect: the filters of a layer as a grid (16 first-layer filters: 4 x 4 tiles of 3 x 3
// weights at zoom 5, 2-pixel gaps), and every layer's activations of one picture.
TEST_F(CliTest, InspectDrawsFiltersAndEveryLayersActivations) {
  make_dump(/*ratings=*/true);
  ok("weights init --model i2v-tag --input-size 32 --width 0.25 --outputs 6 -o w.safetensors");
  const ToolRun filters = ok("inspect filters --weights w.safetensors --zoom 5 -o conv1_1.png");
  EXPECT_NE(filters.out.find("conv1_1: 16 filters of 3x3x3 (input channels as RGB); scale: +"), std::string::npos)
      << filters.out;
  const Image grid = load_image(path("conv1_1.png"));
  EXPECT_EQ(grid.width, 2 + 4 * (15 + 2));
  EXPECT_EQ(grid.height, grid.width);
  const ToolRun deeper = ok("inspect filters --weights w.safetensors --layer conv2_1 -o conv2_1.png");
  EXPECT_NE(deeper.out.find("conv2_1: 32 filters of 16x3x3, each shown as its mean over the inputs"), std::string::npos)
      << deeper.out;
  EXPECT_NE(i2v("inspect filters --weights w.safetensors --layer relu1_1 -o x.png").err.find("no convolution named relu1_1"),
            std::string::npos);
  const ToolRun inside = ok("inspect activations original/0001/1.png --weights w.safetensors --max-channels 9 -o inside");
  const nlohmann::json summary = nlohmann::json::parse(read_file(path("inside/summary.json")));
  ASSERT_EQ(summary.size(), 29u);  // every layer of i2v-tag
  EXPECT_EQ(summary[0]["layer"], "conv1_1");
  EXPECT_EQ(summary[0]["shape"], nlohmann::json({16, 32, 32}));
  EXPECT_GT(summary[1]["zeros"].get<double>(), 0.05);  // relu1_1 turns some of its inputs off
  const Image sheet = load_image(path("inside/01-relu1_1.png"));
  EXPECT_EQ(sheet.width, 2 + 3 * (32 + 2));  // 9 of 16 channels, 3 x 3 tiles of 32 pixels
  EXPECT_TRUE(std::filesystem::exists(path("inside/27-conv6_4.png")));
  EXPECT_NE(inside.out.find("wrote 28 sheets"), std::string::npos) << inside.out;

  // One batch's gradients: a row per parameter, the step ratios as lr * |grad| / |weight|.
  ok("vocab build --metadata metadata.jsonl -o vocab.json");
  const int64_t outputs = Vocabulary::load(path("vocab.json")).size();
  ok(fmt::format("weights init --model i2v-tag --input-size 32 --width 0.25 --outputs {} -o tagger.safetensors", outputs));
  const ToolRun gradients = ok("inspect gradients --weights tagger.safetensors --metadata metadata.jsonl --images . "
                               "--vocab vocab.json --batch 8 --lr 0.5 -o g.png --json g.json");
  EXPECT_NE(gradients.out.find("one batch of 8 pictures, loss "), std::string::npos) << gradients.out;
  const nlohmann::json g = nlohmann::json::parse(read_file(path("g.json")));
  ASSERT_EQ(g["parameters"].size(), 24u);  // 12 convolutions, a weight and a bias each
  for (const nlohmann::json& row : g["parameters"]) {
    if (row["parameter"].get<std::string>().find(".bias") != std::string::npos) continue;  // fresh biases are 0
    EXPECT_GT(row["weight_norm"].get<double>(), 0) << row;
    EXPECT_NEAR(row["step_ratio"].get<double>(), 0.5 * row["grad_norm"].get<double>() / row["weight_norm"].get<double>(),
                1e-9) << row;
  }
  EXPECT_GT(g["parameters"][0]["grad_norm"].get<double>(), 0);
  EXPECT_EQ(load_image(path("g.png")).height, 28 + 16 * 24 + 8);
}

// The inspect commands and the kernel trace on the GPU devices (sim; cuda where a GPU is): the
// same pictures and numbers as on the cpu, and a trace of the device's launches.
class CliOnGpuDevices : public CliTest, public testing::WithParamInterface<Device> {};

TEST_P(CliOnGpuDevices, InspectsAsOnTheCpuAndTracesItsLaunches) {
  const std::string device = GetParam().name();
  make_dump(/*ratings=*/true);
  ok("vocab build --metadata metadata.jsonl -o vocab.json");
  const int64_t outputs = Vocabulary::load(path("vocab.json")).size();
  ok(fmt::format("weights init --model i2v-tag --input-size 32 --width 0.25 --outputs {} -o w.safetensors", outputs));
  // Filters: the same picture of the same weights.
  ok("inspect filters --weights w.safetensors -o cpu.png");
  ok(fmt::format("inspect filters --weights w.safetensors --device {} -o device.png", device));
  EXPECT_EQ(read_file(path("cpu.png")), read_file(path("device.png")));
  // Activations, traced: fp32 products, so within 1e-3 of a layer's std.
  ok("inspect activations original/0001/1.png --weights w.safetensors -o inside-cpu");
  ok(fmt::format("inspect activations original/0001/1.png --weights w.safetensors --device {} --precision fp32 "
                 "-o inside-device --trace activations.jsonl",
                 device));
  const json on_cpu = json::parse(read_file(path("inside-cpu/summary.json")));
  const json on_device = json::parse(read_file(path("inside-device/summary.json")));
  ASSERT_EQ(on_device.size(), on_cpu.size());
  for (size_t i = 0; i < on_cpu.size(); ++i) {
    const double scale = on_cpu[i]["std"].get<double>() + 1e-6;
    EXPECT_NEAR(on_device[i]["mean"].get<double>(), on_cpu[i]["mean"].get<double>(), 1e-3 * scale) << on_cpu[i];
    EXPECT_NEAR(on_device[i]["std"].get<double>(), on_cpu[i]["std"].get<double>(), 1e-3 * scale) << on_cpu[i];
  }
  size_t launches = 0, layers = 0;
  std::istringstream trace(read_file(path("activations.jsonl")));
  for (std::string line; std::getline(trace, line);) {
    const json event = json::parse(line);
    if (event["type"] == "layer") ++layers;
    if (event["type"] != "launch" || event["device"] != device) continue;
    ++launches;
    EXPECT_EQ(event["grid"].size(), 3u) << line;
    EXPECT_EQ(event["block"].size(), 3u) << line;
    EXPECT_GE(event["us"].get<double>(), 0) << line;
  }
  EXPECT_EQ(layers, 29u);      // each layer's forward
  EXPECT_GE(launches, 29u);    // at least a launch per layer
  // Gradients: the same norms (fp32) as on the cpu.
  const std::string gradients = "inspect gradients --weights w.safetensors --metadata metadata.jsonl --images . "
                                "--vocab vocab.json --batch 8 --precision fp32";
  ok(gradients + " -o g-cpu.png --json cpu.json");
  ok(gradients + fmt::format(" --device {} -o g-device.png --json device.json", device));
  const json cpu_rows = json::parse(read_file(path("cpu.json")))["parameters"];
  const json device_rows = json::parse(read_file(path("device.json")))["parameters"];
  ASSERT_EQ(device_rows.size(), cpu_rows.size());
  for (size_t i = 0; i < cpu_rows.size(); ++i)
    EXPECT_NEAR(device_rows[i]["grad_norm"].get<double>(), cpu_rows[i]["grad_norm"].get<double>(),
                1e-3 * cpu_rows[i]["grad_norm"].get<double>() + 1e-7)
        << cpu_rows[i];
}

INSTANTIATE_TEST_SUITE_P(Devices, CliOnGpuDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

// A folder dump packed into tar shards reads as the same dump: the same vocabulary, splits and
// pictures (i2v data pack, then --shards on vocab build and data check).
TEST_F(CliTest, PackedShardsReadAsTheFolderDump) {
  make_dump(/*ratings=*/true);
  const ToolRun pack = ok("data pack --metadata metadata.jsonl --images . -o shards --per-shard 10");
  EXPECT_NE(pack.out.find("wrote 4 shards of up to 10 posts to shards"), std::string::npos) << pack.out;
  ok("vocab build --metadata metadata.jsonl -o folder-vocab.json");
  ok("vocab build --shards 'shards/*.tar' -o shard-vocab.json");
  EXPECT_EQ(read_file(path("folder-vocab.json")), read_file(path("shard-vocab.json")));
  const ToolRun folder = ok("data check --metadata metadata.jsonl --images . --vocab folder-vocab.json");
  const ToolRun shards = ok("data check --shards 'shards/*.tar' --vocab folder-vocab.json");
  for (const char* line : {"metadata lines: 36 read, 0 skipped", "pictures: 36 read, 0 skipped"}) {
    EXPECT_NE(folder.out.find(line), std::string::npos) << folder.out;
    EXPECT_NE(shards.out.find(line), std::string::npos) << shards.out;
  }
  const auto splits = [](const std::string& out) {
    const size_t at = out.find("splits:");
    return out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(splits(folder.out), splits(shards.out));
  EXPECT_EQ(i2v("data check --shards 'nothing/*.tar' --vocab folder-vocab.json").status, 1);
}

// One convention for every command (README, "Conventions"): -o/--output, --json FILE as "also
// write", --images for an image root (--image-root kept as a deprecated spelling), one default
// split, and no stale help.
TEST_F(CliTest, EveryCommandFollowsTheConventions) {
  // Every command's help: `i2v --help`, then each group's subcommands.
  std::vector<std::string> pending = {""}, commands;
  while (!pending.empty()) {
    const std::string command = pending.back();
    pending.pop_back();
    const std::string help = ok(command + " --help").out;
    const size_t list = help.find("Subcommands:\n");
    if (list == std::string::npos) {
      commands.push_back(command);
      continue;
    }
    std::istringstream lines(help.substr(list + 13));
    for (std::string line; std::getline(lines, line) && line.rfind("  ", 0) == 0;)
      pending.push_back(command + " " + line.substr(2, line.find(' ', 2) - 2));
  }
  EXPECT_GT(commands.size(), 30u);
  for (const std::string& command : commands) {
    SCOPED_TRACE(command);
    const std::string help = ok(command + " --help").out;
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("  -", 0) != 0) continue;  // an option's line: "  -o,--output TEXT  what"
      const std::string names = line.substr(2, line.find(' ', 2) - 2);
      if ((names + ",").find("--output,") != std::string::npos) {
        EXPECT_EQ(names, "-o,--output") << line;
      }
      if (names == "--json") {
        EXPECT_NE(line.find("Also write"), std::string::npos) << line;
      }
      if (names == "--split-fractions") {
        EXPECT_NE(line.find("--split-fractions TEXT=0.8,0.1,0.1"), std::string::npos) << line;
      }
    }
    for (const char* stale : {"--image-root", "instead of stdout", "no model yet", "tagging model's tools"})
      EXPECT_EQ(help.find(stale), std::string::npos) << stale << " in\n" << help;
  }

  // search: --image-root still works, with a warning; --json also writes what it prints.
  std::vector<uint8_t> codes(4 * 8);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = uint8_t(i * 37);
  write_npy(path("codes.npy"), NpyType::u8, {4, 8}, codes.data());
  write_file_atomically(path("paths.txt"), std::string("a.png\nb.png\nc.png\nd.png\n"));
  ok("index build --codes codes.npy --paths paths.txt -o s.i2vcodes");
  const ToolRun search = ok("search 0 --store s.i2vcodes --k 2 --image-root . --json r.json");
  EXPECT_NE(search.err.find("--image-root is deprecated; use --images"), std::string::npos) << search.err;
  EXPECT_EQ(json::parse(search.out), json::parse(read_file(path("r.json"))));
  EXPECT_EQ(ok("search 0 --store s.i2vcodes --k 2 --images .").err, "");
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

// A small code store from random codes, with image paths, for the tests of outputs and exit codes.
void write_store_inputs(const std::string& codes_npy, const std::string& paths_txt) {
  Rng rng(3);
  std::vector<uint8_t> codes(20 * 8);
  for (uint8_t& byte : codes) byte = uint8_t(rng.below(256));
  write_npy(codes_npy, NpyType::u8, {20, 8}, codes.data());
  std::string paths;
  for (int i = 0; i < 20; ++i) paths += fmt::format("pictures/{}.png\n", i);
  write_file_atomically(paths_txt, paths);
}

TEST_F(CliTest, OutputsAreRegularFilesNeverAnInputALinkOrAFifo) {
  write_store_inputs(path("codes.npy"), path("paths.txt"));
  ok("index build --codes codes.npy --paths paths.txt -o s.i2vcodes");
  const std::string store = read_file(path("s.i2vcodes"));
  auto refused = [&](const std::string& args, const std::string& why) {
    const ToolRun run = i2v(args);
    EXPECT_EQ(run.status, 1) << args;
    EXPECT_NE(run.err.find(why), std::string::npos) << args << "\n" << run.err;
    EXPECT_EQ(run.out, "") << args;
  };
  // The store a command reads, also spelt otherwise or through a hard link: never written.
  refused("index graph --store s.i2vcodes -o s.i2vcodes --force", "-o s.i2vcodes is --store s.i2vcodes, which");
  refused("index graph --store s.i2vcodes -o ./new/../s.i2vcodes --force", "(the same file)");
  ASSERT_EQ(::link(path("s.i2vcodes").c_str(), path("hard.i2vcodes").c_str()), 0);
  refused("index graph --store hard.i2vcodes -o s.i2vcodes --force", "is --store hard.i2vcodes (the same file)");
  refused("index build --codes codes.npy --paths paths.txt -o paths.txt --force", "-o paths.txt is --paths paths.txt");
  EXPECT_EQ(read_file(path("s.i2vcodes")), store);
  EXPECT_FALSE(std::filesystem::exists(path("new"))) << "a folder made for a refused output";
  // A file i2v reads back is replaced only with --force; a report is replaced.
  refused("index build --codes codes.npy --paths paths.txt -o s.i2vcodes", "-o s.i2vcodes exists: add --force");
  ok("index build --codes codes.npy --paths paths.txt -o s.i2vcodes --force");
  ok("index knn --store s.i2vcodes --k 2 -o knn.npy");
  ok("index knn --store s.i2vcodes --k 3 -o knn.npy");
  EXPECT_EQ(read_npy(path("knn.npy")).shape, (Shape{20, 3, 2}));
  // Never through a link, never into a FIFO or a folder, even with --force.
  write_file_atomically(path("target.json"), std::string("keep"));
  std::filesystem::create_symlink("target.json", path("link.json"));
  ASSERT_EQ(::mkfifo(path("fifo.npy").c_str(), 0644), 0);
  std::filesystem::create_directories(path("folder.npy"));
  refused("index knn --store s.i2vcodes -o link.json", "-o link.json: is a symbolic link");
  refused("index knn --store s.i2vcodes -o fifo.npy", "-o fifo.npy: is a FIFO");
  refused("index knn --store s.i2vcodes -o folder.npy", "-o folder.npy: is a folder");
  refused("index graph --store s.i2vcodes -o link.json --force", "is a symbolic link");
  EXPECT_TRUE(std::filesystem::is_symlink(path("link.json")));
  EXPECT_EQ(read_file(path("target.json")), "keep");
  struct stat status {};
  ASSERT_EQ(::lstat(path("fifo.npy").c_str(), &status), 0);
  EXPECT_TRUE(S_ISFIFO(status.st_mode));
  // Metadata a command reads from a folder: its *.jsonl are inputs, other files are not.
  std::filesystem::create_directories(path("meta"));
  write_file_atomically(path("meta/posts.jsonl"),
                        std::string("{\"id\": 1, \"tag_string_general\": \"a b\", \"rating\": \"s\"}\n"));
  refused("vocab build --metadata meta -o meta/posts.jsonl --force", "is a file inside --metadata meta");
  ok("vocab build --metadata meta -o meta/vocab.json");
  // Two outputs of one command on the same file.
  refused("search 3 --store s.i2vcodes --json out.png --sheet ./out.png", "--json and --sheet both name ./out.png");
}

TEST_F(CliTest, ExitCodes) {
  // 2: usage errors (CLI11's own codes were 104-114, undocumented).
  EXPECT_EQ(i2v("frobnicate").status, 2);
  EXPECT_EQ(i2v("index knn -o knn.npy").status, 2);                  // a required option missing
  EXPECT_EQ(i2v("index knn --store s --k 0 -o knn.npy").status, 2);  // a value out of range
  EXPECT_EQ(i2v("index knn --store s --frobnicate").status, 2);      // an unknown option
  EXPECT_EQ(ok("--help").status, 0);
  EXPECT_NE(ok("--help").out.find("Exit status: 0 done; 1 an error"), std::string::npos);
  // 1: a failed write of stdout is an error.
  write_store_inputs(path("codes.npy"), path("paths.txt"));
  ok("index build --codes codes.npy --paths paths.txt -o s.i2vcodes");
  ok("search 3 --store s.i2vcodes --k 2 > /dev/null");
  const ToolRun full = i2v("search 3 --store s.i2vcodes --k 2 > /dev/full");
  EXPECT_EQ(full.status, 1);
  EXPECT_NE(full.err.find("cannot write to the standard output"), std::string::npos) << full.err;
  // 1: a checkpoint that `weights show` lists as DAMAGED.
  Checkpoint checkpoint;
  checkpoint.tensors["w"] = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4});
  checkpoint.state = {{"step", 1}};
  save_checkpoint(path("c.i2vckpt"), checkpoint);
  EXPECT_NE(ok("weights show c.i2vckpt").out.find("checksum verified"), std::string::npos);
  std::string bytes = read_file(path("c.i2vckpt"));
  bytes[bytes.size() - 1] ^= 0x40;  // a bit of the tensor data
  write_file_atomically(path("c.i2vckpt"), bytes);
  const ToolRun damaged = i2v("weights show c.i2vckpt");
  EXPECT_EQ(damaged.status, 1);
  EXPECT_NE(damaged.out.find("DAMAGED"), std::string::npos) << damaged.out;
  EXPECT_NE(damaged.err.find("i2v: error: a damaged checkpoint: "), std::string::npos) << damaged.err;
}

}  // namespace
}  // namespace i2v
