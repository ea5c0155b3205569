// The Caffe importer: .caffemodel files written by protobuf's own encoder (the Python fixture
// script beside this file) read back value for value; hand-made malformed buffers refused with
// the file, the offset and the reason; blobs mapped to a model's named tensors.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "nn/caffe_model.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

// ---- a minimal protobuf encoder for hand-made (and malformed) buffers ----

std::string varint(uint64_t value) {
  std::string out;
  do {
    out += char((value & 0x7f) | (value >= 0x80 ? 0x80 : 0));
    value >>= 7;
  } while (value);
  return out;
}
std::string key(uint32_t field, uint32_t wire_type) { return varint(uint64_t(field) << 3 | wire_type); }
std::string varint_field(uint32_t field, uint64_t value) { return key(field, 0) + varint(value); }
std::string bytes_field(uint32_t field, const std::string& payload) {
  return key(field, 2) + varint(payload.size()) + payload;
}
std::string packed_floats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}
std::string blob_with_shape(const std::vector<uint64_t>& dims, const std::vector<float>& values) {
  std::string shape;
  for (uint64_t d : dims) shape += varint(d);
  return bytes_field(7, bytes_field(1, shape)) + bytes_field(5, packed_floats(values));
}
// A new-style layer (NetParameter field 100) with a name, a type and blobs.
std::string layer(const std::string& name, const std::string& type, const std::vector<std::string>& blobs = {}) {
  std::string body = bytes_field(1, name) + bytes_field(2, type);
  for (const std::string& blob : blobs) body += bytes_field(7, blob);
  return bytes_field(100, body);
}

// The message of the i2v::Error that parsing `bytes` throws ("" when it parses).
std::string parse_error(const std::string& bytes) {
  try {
    parse_caffe_model(bytes, "bad.caffemodel");
  } catch (const Error& error) {
    return error.message();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "in: " << (text)

std::vector<float> values_of(const Tensor& t) { return t.to_vector<float>(); }

// ---- hand-made valid buffers ----

TEST(CaffeModel, ReadsHandMadeNetWithMixedPackingAndLegacyShape) {
  const std::vector<float> first = {1.5f, -2.25f}, second = {3.0f, 4.0f, -0.125f, 8e-9f};
  // data split over a packed run, an unpacked value and another packed run (protobuf allows it)
  std::string blob = bytes_field(7, bytes_field(1, varint(7)));  // a shape, overridden below
  blob += bytes_field(5, packed_floats(first));
  blob += key(5, 5) + packed_floats({7.0f});
  blob += bytes_field(5, packed_floats(second));
  blob += varint_field(1, 1) + varint_field(3, 7);  // legacy num and height: [1, 0, 7, 0]...
  blob += varint_field(2, 1) + varint_field(4, 1);  // ...then channels and width: [1, 1, 7, 1]
  std::string v1_layer = bytes_field(4, "ip") + varint_field(5, 14) + bytes_field(6, blob);
  std::string net = bytes_field(1, "hand") + bytes_field(2, v1_layer) +
                    bytes_field(2, bytes_field(4, "odd") + varint_field(5, 99));
  const CaffeNet parsed = parse_caffe_model(net, "hand.caffemodel");
  EXPECT_EQ(parsed.name, "hand");
  ASSERT_EQ(parsed.layers.size(), 2u);
  EXPECT_EQ(parsed.layers[0].name, "ip");
  EXPECT_EQ(parsed.layers[0].type, "InnerProduct");
  ASSERT_EQ(parsed.layers[0].blobs.size(), 1u);
  EXPECT_EQ(parsed.layers[0].blobs[0].shape(), (Shape{1, 1, 7, 1}));  // legacy wins, as in Caffe
  EXPECT_EQ(values_of(parsed.layers[0].blobs[0]),
            (std::vector<float>{1.5f, -2.25f, 7.0f, 3.0f, 4.0f, -0.125f, 8e-9f}));
  EXPECT_EQ(parsed.layers[1].type, "V1 layer type 99");
  EXPECT_TRUE(parsed.layers[1].blobs.empty());
}

TEST(CaffeModel, EmptyBlobsAndZeroAxisBlobs) {
  const std::string empty_shape_blob = bytes_field(7, "") + bytes_field(5, packed_floats({2.5f}));
  const std::string zero_blob = varint_field(1, 0) + varint_field(2, 3);  // [0, 3, 0, 0]: no values
  const CaffeNet net = parse_caffe_model(layer("s", "Scale", {empty_shape_blob, zero_blob}), "s");
  ASSERT_EQ(net.layers[0].blobs.size(), 2u);
  EXPECT_EQ(net.layers[0].blobs[0].shape(), Shape{});
  EXPECT_EQ(values_of(net.layers[0].blobs[0]), std::vector<float>{2.5f});
  EXPECT_EQ(net.layers[0].blobs[1].shape(), (Shape{0, 3, 0, 0}));
}

// ---- malformed buffers ----

TEST(CaffeModel, RefusesMalformedWireFormat) {
  const std::string ok_layer = layer("conv", "Convolution", {blob_with_shape({2}, {1, 2})});
  struct Case {
    const char* what;
    std::string bytes;
    std::vector<std::string> parts;  // expected in the message
  };
  const std::vector<Case> cases = {
      {"empty", "", {"no layers"}},
      {"truncated varint", ok_layer + key(3, 0) + "\x80\x80", {"bad.caffemodel: byte " + std::to_string(ok_layer.size() + 1), "truncated varint"}},
      {"varint past 64 bits", key(3, 0) + std::string(10, '\xff') + "\x01", {"byte 1", "longer than 64 bits"}},
      {"length past the end", ok_layer + key(100, 2) + varint(50) + "abc", {"length 50 runs past the end", "(3 bytes left)"}},
      {"huge length", key(3, 2) + varint(~0ull) + "x", {"length 18446744073709551615 runs past the end"}},
      {"length past its message", bytes_field(100, bytes_field(1, "l") + key(7, 2) + varint(9)) + std::string(20, 'x'),
       {"layer #0 'l'", "length 9 runs past the end of its message (0 bytes left)"}},
      {"truncated fixed32", ok_layer + key(9, 5) + "ab", {"truncated 4-byte value (2 bytes left)"}},
      {"truncated fixed64", ok_layer + key(9, 1) + "abcdefg", {"truncated 8-byte value (7 bytes left)"}},
      {"field number 0", ok_layer + std::string(1, '\0'), {"invalid field key 0"}},
      {"wire type 6", ok_layer + key(3, 6), {"invalid wire type 6"}},
      {"wire type 7", key(3, 7) + ok_layer, {"byte 0", "invalid wire type 7"}},
      {"end group without start", ok_layer + key(5, 4), {"end of group 5 without its start"}},
      {"mismatched end group", ok_layer + key(5, 3) + key(6, 4), {"end of group 6 inside group 5"}},
      {"unterminated group", ok_layer + key(5, 3) + varint_field(1, 3), {"group 5 has no end"}},
      {"name as a varint", varint_field(1, 3) + ok_layer, {"net name (field 1) has wire type varint, expected length-delimited"}},
      {"layer type as a varint", bytes_field(100, bytes_field(1, "x") + varint_field(2, 4)),
       {"layer #0 'x'", "layer type (field 2) has wire type varint"}},
      {"V1 type as a string", bytes_field(2, bytes_field(4, "x") + bytes_field(5, "Convolution")),
       {"V1 layer type (field 5) has wire type length-delimited, expected varint"}},
      {"packed floats, odd length", layer("p", "InnerProduct", {bytes_field(5, "1234567")}),
       {"layer #0 'p', blob 0", "packed BlobProto.data holds 7 bytes, not a multiple of 4"}},
      {"packed doubles, odd length", layer("p", "InnerProduct", {bytes_field(8, "123456789abc")}),
       {"packed BlobProto.double_data holds 12 bytes, not a multiple of 8"}},
      {"both layer and layers", ok_layer + bytes_field(2, bytes_field(4, "v1")),
       {"both 'layer' (field 100) and legacy 'layers' (field 2)"}},
      {"V0 layer", bytes_field(2, bytes_field(1, bytes_field(1, "conv1"))), {"V0 format"}},
      {"HDF5", std::string("\x89HDF\r\n\x1a\n", 8) + std::string(64, '\0'), {"HDF5"}},
      {"prototxt", "name: \"illust2vec\"\nlayer {\n  name: \"conv1_1\"\n}\n", {"text, not a binary .caffemodel"}},
      {"no layers", bytes_field(1, "just a name") + varint_field(5, 1), {"no layers"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string message = parse_error(c.bytes);
    ASSERT_FALSE(message.empty()) << "parsed";
    for (const std::string& part : c.parts) EXPECT_CONTAINS(message, part);
  }
}

TEST(CaffeModel, RefusesBlobsWhoseSizesDoNotAddUp) {
  struct Case {
    const char* what;
    std::string blob;
    std::string part;
  };
  std::string negative_dim = bytes_field(7, bytes_field(1, varint(uint64_t(-1))));
  std::string nine_axes = bytes_field(7, bytes_field(1, std::string(9, '\x01')));
  const std::vector<Case> cases = {
      {"fewer values", blob_with_shape({2, 3}, {1, 2, 3, 4, 5}), "shape [2, 3] has 6 elements but the blob holds 5 values"},
      {"more values", blob_with_shape({2}, {1, 2, 3}), "shape [2] has 2 elements but the blob holds 3 values"},
      {"no values", blob_with_shape({4}, {}), "holds 0 values"},
      {"no shape, no values", "", "shape [] has 1 elements but the blob holds 0 values"},
      {"huge dimension", blob_with_shape({1ull << 40}, {1}), "blob dimension is 1099511627776, outside [0, 2147483647]"},
      {"negative dimension", negative_dim, "blob dimension is -1"},
      {"huge legacy num", varint_field(1, 1ull << 33), "blob num is 8589934592"},
      {"count overflow", blob_with_shape({65536, 65536, 65536}, {1}), "has more than 2147483647 elements"},
      // 2^31 - 1 elements declared and one value held: refused before anything is allocated
      {"huge count, one value", blob_with_shape({2147483647}, {1}), "has 2147483647 elements but the blob holds 1 values"},
      {"too many axes", nine_axes, "more than 8 axes"},
      {"two shapes", bytes_field(7, "") + bytes_field(7, ""), "two shapes"},
      {"data and double_data", bytes_field(5, packed_floats({1})) + key(8, 1) + std::string(8, '\0'),
       "both data (1 values) and double_data (1 values)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string message = parse_error(layer("conv3_1", "Convolution", {blob_with_shape({1}, {0.5f}), c.blob}));
    ASSERT_FALSE(message.empty()) << "parsed";
    EXPECT_CONTAINS(message, "layer #0 'conv3_1', blob 1");
    EXPECT_CONTAINS(message, c.part);
  }
}

TEST(CaffeModel, DeeplyNestedGroupsAreRefusedWithoutRecursingOnAndOn) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += key(20, 3);
  EXPECT_CONTAINS(parse_error(deep), "groups nested more than 64 deep");
  // Nested within the limit, they are skipped.
  std::string nested;
  for (int i = 0; i < 10; ++i) nested += key(uint32_t(20 + i), 3) + key(3, 1) + std::string(8, 'x');
  for (int i = 9; i >= 0; --i) nested += key(uint32_t(20 + i), 4);
  const CaffeNet net = parse_caffe_model(nested + layer("a", "ReLU"), "groups");
  ASSERT_EQ(net.layers.size(), 1u);
  EXPECT_EQ(net.layers[0].name, "a");
}

// Every prefix and many random corruptions of a valid file: parsed or refused, never a crash
// (the asan build runs this too).
TEST(CaffeModel, TruncatedOrCorruptedBytesNeverCrash) {
  std::string v1_layer = bytes_field(4, "v1") + varint_field(5, 4) +
                         bytes_field(6, varint_field(1, 1) + varint_field(2, 2) + varint_field(3, 1) + varint_field(4, 1) + key(5, 5) + packed_floats({1}) +
                                            key(5, 5) + packed_floats({2}));
  const std::string valid = bytes_field(1, "net") + key(30, 3) + key(3, 1) + std::string(8, 'g') + key(30, 4) +
                            layer("conv", "Convolution", {blob_with_shape({2, 2}, {1, 2, 3, 4}), blob_with_shape({2}, {5, 6})}) +
                            layer("relu", "ReLU") + key(40, 5) + "abcd" +
                            layer("fc", "InnerProduct", {key(8, 1) + std::string(8, '\x01')});
  ASSERT_EQ(parse_error(valid), "");
  ASSERT_EQ(parse_error(bytes_field(2, v1_layer)), "");
  int refused = 0;
  for (size_t n = 0; n < valid.size(); ++n) refused += !parse_error(valid.substr(0, n)).empty();
  EXPECT_GT(refused, int(valid.size()) / 2);
  auto rng = test::test_rng();
  for (int trial = 0; trial < 3000; ++trial) {
    std::string corrupt = valid;
    for (int flips = 1 + int(rng() % 3); flips > 0; --flips) corrupt[rng() % corrupt.size()] = char(rng());
    parse_error(corrupt);  // any outcome but a crash
  }
}

TEST(CaffeModel, LoadNamesTheFileItCannotRead) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("i2v_caffe_load_{}", test::run_seed());
  fs::create_directories(dir);
  try {
    load_caffe_model((dir / "missing.caffemodel").string());
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_CONTAINS(error.message(), "cannot open");
    EXPECT_CONTAINS(error.message(), "missing.caffemodel");
  }
  EXPECT_THROW(load_caffe_model(dir.string()), Error);  // a directory
  const std::string truncated = (dir / "truncated.caffemodel").string();
  std::ofstream(truncated, std::ios::binary) << layer("conv", "Convolution", {blob_with_shape({3}, {1, 2, 3})}).substr(0, 20);
  try {
    load_caffe_model(truncated);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_CONTAINS(error.message(), truncated + ": byte ");
  }
  fs::remove_all(dir);
}

// ---- files written by protobuf's encoder ----

class CaffeFixture : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = fs::temp_directory_path() / fmt::format("i2v_caffe_fixture_{}_{}", test::run_seed(), ::getpid());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    const fs::path script = fs::path(I2V_SOURCE_DIR) / "tests" / "caffe_model_fixture.py";
    const char* python = "/usr/bin/python3";
    failure_ = test::python_missing("google.protobuf");  // the fixtures' encoder
    if (!failure_.empty()) return;
    const fs::path log = directory_ / "script.log";
    const std::string command = fmt::format("{} '{}' '{}' > '{}' 2>&1", python, script.string(), directory_.string(), log.string());
    const int status = std::system(command.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream log_file(log);
    const std::string output((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
    if (code != 0)
      failure_ = fmt::format("{} failed (status {}):\n{}", command, status, output);
    else
      expected_ = nlohmann::json::parse(std::ifstream(directory_ / "expected.json"));
  }
  static void TearDownTestSuite() { fs::remove_all(directory_); }

  void SetUp() override {
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static std::string path(const std::string& name) { return (directory_ / name).string(); }

  // Every layer, blob, shape and value of `file` as the fixture script wrote them.
  static void expect_as_written(const std::string& file) {
    SCOPED_TRACE(file);
    const CaffeNet net = load_caffe_model(path(file));
    const nlohmann::json& want = expected_.at(file);
    EXPECT_EQ(net.name, want.at("name").get<std::string>());
    ASSERT_EQ(net.layers.size(), want.at("layers").size());
    for (size_t l = 0; l < net.layers.size(); ++l) {
      const CaffeLayer& layer = net.layers[l];
      const nlohmann::json& wl = want["layers"][l];
      SCOPED_TRACE(layer.name);
      EXPECT_EQ(layer.name, wl.at("name").get<std::string>());
      EXPECT_EQ(layer.type, wl.at("type").get<std::string>());
      ASSERT_EQ(layer.blobs.size(), wl.at("blobs").size());
      for (size_t b = 0; b < layer.blobs.size(); ++b) {
        const Tensor& blob = layer.blobs[b];
        EXPECT_EQ(blob.shape(), wl["blobs"][b].at("shape").get<Shape>());
        EXPECT_EQ(blob.dtype(), DType::f32);
        EXPECT_EQ(blob.device(), Device::cpu());
        const std::vector<double> values = wl["blobs"][b].at("data").get<std::vector<double>>();
        const std::vector<float> got = values_of(blob);
        ASSERT_EQ(got.size(), values.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_EQ(got[i], static_cast<float>(values[i])) << "blob " << b << " value " << i;
      }
    }
  }

  static inline fs::path directory_;
  static inline std::string failure_;
  static inline nlohmann::json expected_;
};

TEST_F(CaffeFixture, NewStyleNet) { expect_as_written("new_style.caffemodel"); }
TEST_F(CaffeFixture, LegacyV1Net) { expect_as_written("legacy_v1.caffemodel"); }
TEST_F(CaffeFixture, UnknownFieldsOfEveryWireType) { expect_as_written("unknown_fields.caffemodel"); }
TEST_F(CaffeFixture, DoubleData) { expect_as_written("double_data.caffemodel"); }

TEST_F(CaffeFixture, LegacyBlobsTakeTheModelsShapes) {
  const CaffeNet net = load_caffe_model(path("legacy_v1.caffemodel"));
  const std::map<std::string, Shape> expected = {{"conv1_1.weight", {8, 3, 3, 3}},
                                                 {"conv1_1.bias", {8}},
                                                 {"encode1.weight", {6, 32}},
                                                 {"encode1.bias", {6}}};
  const std::map<std::string, Tensor> tensors = caffe_named_tensors(net, expected);
  ASSERT_EQ(tensors.size(), 4u);
  const CaffeLayer& encode1 = net.layers[4];
  ASSERT_EQ(encode1.name, "encode1");
  for (const auto& [name, shape] : expected) EXPECT_EQ(tensors.at(name).shape(), shape) << name;
  EXPECT_EQ(values_of(tensors.at("encode1.weight")), values_of(encode1.blobs[0]));
  EXPECT_EQ(values_of(tensors.at("encode1.bias")), values_of(encode1.blobs[1]));
  EXPECT_TRUE(tensors.at("encode1.weight").shares_storage(encode1.blobs[0]));
}

TEST_F(CaffeFixture, InnerProductWeightsFitAConvolution) {
  const CaffeNet net = load_caffe_model(path("new_style.caffemodel"));
  // fc6 flattens a [64 = 4 x 4 x 4] input in C, H, W order: the same values as a 4x4 conv.
  const std::map<std::string, Shape> expected = {
      {"conv1.weight", {4, 3, 3, 3}}, {"conv1.bias", {4}}, {"fc6.weight", {50, 4, 4, 4}},
      {"fc6.bias", {50}}, {"fc7.weight", {5, 50}}};
  EXPECT_THROW(caffe_named_tensors(net, expected), Error);  // "scale" is not in the model
  CaffeImportOptions options;
  options.ignore_extra_layers = true;
  const std::map<std::string, Tensor> tensors = caffe_named_tensors(net, expected, options);
  EXPECT_EQ(tensors.size(), expected.size());
  EXPECT_EQ(tensors.at("fc6.weight").shape(), (Shape{50, 4, 4, 4}));
  EXPECT_EQ(tensors.at("fc6.weight").item<float>({1, 2, 3, 1}), net.layers[3].blobs[0].item<float>({1, 2 * 16 + 3 * 4 + 1}));
}

// Random corruptions of the noisy file: parsed or refused, never a crash.
TEST_F(CaffeFixture, CorruptedNoisyFileNeverCrashes) {
  std::ifstream in(path("unknown_fields.caffemodel"), std::ios::binary);
  const std::string valid((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rng = test::test_rng();
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupt = valid;
    corrupt[rng() % corrupt.size()] = char(rng());
    parse_error(corrupt.substr(0, corrupt.size() - rng() % 64));
  }
}

// ---- mapping blobs to named tensors ----

Tensor blob(const Shape& shape, std::mt19937_64& rng) { return test::random_tensor(shape, rng); }

std::string mapping_error(const CaffeNet& net, const std::map<std::string, Shape>& expected,
                          const CaffeImportOptions& options = {}) {
  try {
    caffe_named_tensors(net, expected, options);
  } catch (const Error& error) {
    return error.message();
  }
  return "";
}

TEST(CaffeNamedTensors, ListsEveryProblemAtOnce) {
  auto rng = test::test_rng();
  CaffeNet net;
  net.name = "i2v";
  net.layers = {
      {"conv1_1", "Convolution", {blob({64, 3, 3, 3}, rng), blob({64}, rng)}},
      {"relu1_1", "ReLU", {}},
      {"conv2_1", "Convolution", {blob({128, 64, 3, 3}, rng)}},                       // no bias blob
      {"conv3_1", "Convolution", {blob({3, 3, 64, 8}, rng), blob({8}, rng)}},          // permuted
      {"encode1", "InnerProduct", {blob({1, 1, 40, 30}, rng), blob({40}, rng), blob({1}, rng)}},
      {"fc8", "InnerProduct", {blob({10, 4}, rng), blob({10}, rng)}},
      {"conv1_1", "Convolution", {blob({1}, rng)}},
  };
  const std::map<std::string, Shape> expected = {
      {"conv1_1.weight", {64, 3, 3, 3}}, {"conv1_1.bias", {64}},
      {"conv2_1.weight", {128, 64, 3, 3}}, {"conv2_1.bias", {128}},
      {"conv3_1.weight", {8, 64, 3, 3}}, {"conv3_1.bias", {8}},
      {"encode1.weight", {40, 30}},                                     // no bias in the model
      {"conv6_4.weight", {1539, 1024, 3, 3}}, {"conv6_4.bias", {1539}},  // not in the file
      {"bn.running_mean", {8}}};
  const std::string message = mapping_error(net, expected);
  EXPECT_CONTAINS(message, "Caffe net 'i2v' does not fit the model");
  EXPECT_CONTAINS(message, "missing from the file: conv2_1.bias (layer 'conv2_1' has 1 blob), conv6_4.weight, conv6_4.bias");
  EXPECT_CONTAINS(message, "shapes that do not fit: conv3_1.weight [8, 64, 3, 3] from blob [3, 3, 64, 8]");
  EXPECT_CONTAINS(message, "blobs the model has no parameter for: 'encode1' blob 1 [40], 'encode1' blob 2 [1]");
  EXPECT_CONTAINS(message, "layers the model does not have: 'fc8' (InnerProduct, 2 blobs)");
  EXPECT_CONTAINS(message, "layer names with blobs more than once: 'conv1_1'");
  EXPECT_CONTAINS(message, "neither <layer>.weight nor <layer>.bias: 'bn.running_mean'");

  CaffeImportOptions options;
  options.ignore_extra_layers = true;
  EXPECT_EQ(mapping_error(net, expected, options).find("fc8"), std::string::npos);
}

TEST(CaffeNamedTensors, ReshapesOnlyWhereTheLayoutIsTheSame) {
  auto rng = test::test_rng();
  CaffeNet net;
  net.layers = {{"fc", "InnerProduct", {blob({1, 1, 6, 20}, rng), blob({1, 1, 1, 6}, rng)}},
                {"head", "Convolution", {blob({1, 20, 1, 1}, rng)}},
                {"t", "InnerProduct", {blob({6, 20}, rng)}}};
  const std::map<std::string, Tensor> tensors = caffe_named_tensors(
      net, {{"fc.weight", {6, 5, 2, 2}}, {"fc.bias", {6}}, {"head.weight", {1, 20}}, {"t.weight", {6, 20}}});
  EXPECT_EQ(tensors.at("fc.weight").shape(), (Shape{6, 5, 2, 2}));
  EXPECT_EQ(values_of(tensors.at("fc.weight")), values_of(net.layers[0].blobs[0]));
  EXPECT_EQ(tensors.at("fc.bias").shape(), Shape{6});
  EXPECT_EQ(tensors.at("head.weight").shape(), (Shape{1, 20}));
  EXPECT_CONTAINS(mapping_error(net, {{"fc.weight", {6, 20}}, {"fc.bias", {6}}, {"head.weight", {1, 20}}, {"t.weight", {20, 6}}}),
                  "t.weight [20, 6] from blob [6, 20]");  // transposed: same count, not the same layout
  EXPECT_CONTAINS(mapping_error(net, {{"fc.weight", {6, 21}}, {"fc.bias", {6}}, {"head.weight", {1, 20}}, {"t.weight", {6, 20}}}),
                  "fc.weight [6, 21] from blob [1, 1, 6, 20]");
}

}  // namespace
}  // namespace i2v
