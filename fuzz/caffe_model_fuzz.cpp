// The Caffe models of the Illustration2Vec release (nn/caffe_model.h): protobuf's wire format,
// then the blobs matched against a model's parameters as `i2v weights import-caffe` does.
#include "fuzz/fuzz_input.h"
#include "nn/caffe_model.h"

namespace {

// The parameter shapes of a small net with the names the fixtures use (tests/caffe_model_fixture.py)
// and those of the release (conv1_1, fc7, ...), each as weight and bias.
const std::map<std::string, i2v::Shape>& expected_shapes() {
  static const std::map<std::string, i2v::Shape> shapes = {
      {"conv1.weight", {4, 3, 3, 3}}, {"conv1.bias", {4}},     {"fc1.weight", {5, 16}},         {"fc1.bias", {5}},
      {"fc2.weight", {2, 5}},         {"fc2.bias", {2}},       {"conv1_1.weight", {2, 3, 3, 3}}, {"conv1_1.bias", {2}},
      {"fc7.weight", {3, 8}},         {"fc7.bias", {3}},       {"ip.weight", {2, 4, 1, 1}},     {"ip.bias", {2}}};
  return shapes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace i2v;
  const std::string name = "fuzz.caffemodel";
  fuzz::expect_clean_error(name, [&] {
    const CaffeNet net = parse_caffe_model(std::string_view(reinterpret_cast<const char*>(data), size), name);
    for (bool ignore_extra_layers : {false, true}) {
      try {
        caffe_named_tensors(net, expected_shapes(), CaffeImportOptions{ignore_extra_layers});
      } catch (const Error&) {
        // A net that does not fit the model: its own message lists the layers (tested in
        // tests/caffe_model_test.cpp); no file name to check here.
      }
    }
  });
  return 0;
}
