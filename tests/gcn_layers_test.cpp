// The GCN head's layers (semantic_attention, static_graph, dynamic_graph, node_concat,
// node_classifier, global_max_pool, scale) and kernels/batched_gemm.h: forward passes against
// direct sums, gradients checked in double against central differences, every device agreeing
// with the cpu, and a whole head wired by a config checked end to end — its auxiliary input
// (the caption feature v_cap) included.
//
// Tolerances (cpu vs device, float): products of a few dozen O(1) terms summed in another order
// (GPU tiles, reduction trees against double on the cpu) differ by ~1e-6: 1e-5 relative and
// absolute. Max pooling and scaling are exact.
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/batched_gemm.h"
#include "base/error.h"
#include "nn/layers/global_max_pool.h"
#include "nn/layers/graph_propagation.h"
#include "nn/layers/node_classifier.h"
#include "nn/layers/node_concat.h"
#include "nn/layers/scale.h"
#include "nn/layers/semantic_attention.h"
#include "nn/model_config.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using nlohmann::json;

const test::Tolerance kSums{1e-5, 1e-5};
const test::Tolerances kGcnTolerances = {{"output", kSums},        {"grad_input0", kSums}, {"grad_input1", kSums},
                                         {"grad_weight", kSums},   {"grad_bias", kSums}};
const test::Tolerances kExact = {{"output", {0, 0}}, {"grad_input0", {0, 0}}};

double at(const std::vector<double>& values, const Shape& shape, const std::vector<int64_t>& index) {
  int64_t offset = 0;
  for (size_t d = 0; d < shape.size(); ++d) offset = offset * shape[d] + index[d];
  return values[size_t(offset)];
}

std::vector<double> values_of(const Tensor& t) { return t.cast(DType::f64).to_vector<double>(); }

// ---- forward passes against the formulas -------------------------------------------------------

TEST(GcnLayers, SemanticAttentionSumsMapsTimesFeatures) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 4, 5}, rng), m = test::random_tensor({2, 6, 4, 5}, rng);
  SemanticAttention layer;
  const Tensor h = layer.forward({x, m}, Mode::eval);
  ASSERT_EQ(h.shape(), (Shape{2, 3, 6}));
  const std::vector<double> xs = values_of(x), ms = values_of(m), hs = values_of(h);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t d = 0; d < 6; ++d) {
        double sum = 0;
        for (int64_t i = 0; i < 4; ++i)
          for (int64_t j = 0; j < 5; ++j) sum += at(xs, x.shape(), {n, c, i, j}) * at(ms, m.shape(), {n, d, i, j});
        EXPECT_NEAR(at(hs, h.shape(), {n, c, d}), sum, 1e-5);
      }
  EXPECT_EQ(layer.forward_flops({x.shape(), m.shape()}), 2 * 2 * 3 * 6 * 20);
  EXPECT_THROW(layer.output_shape({{2, 3, 4, 5}, {2, 6, 4, 4}}), Error);
  EXPECT_THROW(layer.output_shape({{2, 3, 4, 5}}), Error);
}

// Y_n = A_n · X_n, A shared (static) or per image (dynamic).
void expect_propagated(const Tensor& a, const Tensor& x, const Tensor& y) {
  const std::vector<double> as = values_of(a), xs = values_of(x), ys = values_of(y);
  const int64_t batch = x.size(0), nodes = x.size(1), features = x.size(2);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < nodes; ++i)
      for (int64_t d = 0; d < features; ++d) {
        double sum = 0;
        for (int64_t j = 0; j < nodes; ++j)
          sum += (a.dim() == 2 ? at(as, a.shape(), {i, j}) : at(as, a.shape(), {n, i, j})) *
                 at(xs, x.shape(), {n, j, d});
        EXPECT_NEAR(at(ys, y.shape(), {n, i, d}), sum, 1e-5);
      }
}

TEST(GcnLayers, GraphPropagationMultipliesByTheAdjacency) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({3, 4, 5}, rng);
  auto learned = GraphPropagation::learned(4);
  test::randomize_parameters(*learned, rng);
  EXPECT_EQ(learned->kind(), "static_graph");
  EXPECT_EQ(learned->describe(), "static_graph 4 nodes");
  ASSERT_EQ(learned->parameters().size(), 1u);
  expect_propagated(learned->parameters()[0].second->value, x, learned->forward({x}, Mode::eval));
  EXPECT_THROW(learned->output_shape({{3, 5, 5}}), Error);

  auto dynamic = GraphPropagation::from_input();
  EXPECT_EQ(dynamic->kind(), "dynamic_graph");
  EXPECT_TRUE(dynamic->parameters().empty());
  const Tensor a = test::random_tensor({3, 4, 4}, rng);
  expect_propagated(a, x, dynamic->forward({a, x}, Mode::eval));
  EXPECT_THROW(dynamic->output_shape({{3, 4, 5}, {3, 4, 5}}), Error);
  EXPECT_THROW(GraphPropagation::learned(0), Error);
}

TEST(GcnLayers, NodeConcatAppendsTheVectorToEveryNode) {
  auto rng = test::test_rng();
  const Tensor v = test::random_tensor({2, 3, 4}, rng), cap = test::random_tensor({2, 5}, rng);
  NodeConcat layer;
  const Tensor y = layer.forward({v, cap}, Mode::eval);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 9}));
  const std::vector<double> vs = values_of(v), caps = values_of(cap), ys = values_of(y);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t d = 0; d < 9; ++d)
        EXPECT_EQ(at(ys, y.shape(), {n, c, d}), d < 4 ? at(vs, v.shape(), {n, c, d}) : at(caps, cap.shape(), {n, d - 4}));
  EXPECT_THROW(layer.output_shape({{2, 3, 4}, {3, 5}}), Error);
}

TEST(GcnLayers, NodeClassifierScoresEachNodeWithItsOwnClassifier) {
  auto rng = test::test_rng();
  NodeClassifier layer(3, 5);
  test::randomize_parameters(layer, rng);
  EXPECT_EQ(layer.describe(), "node_classifier 3 nodes x 5");
  const Tensor z = test::random_tensor({2, 3, 5}, rng);
  const Tensor s = layer.forward({z}, Mode::eval);
  ASSERT_EQ(s.shape(), (Shape{2, 3}));
  const std::vector<double> w = values_of(layer.parameters()[0].second->value);
  const std::vector<double> b = values_of(layer.parameters()[1].second->value);
  const std::vector<double> zs = values_of(z), ss = values_of(s);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c) {
      double sum = b[size_t(c)];
      for (int64_t d = 0; d < 5; ++d) sum += w[size_t(c * 5 + d)] * at(zs, z.shape(), {n, c, d});
      EXPECT_NEAR(ss[size_t(n * 3 + c)], sum, 1e-5);
    }
  EXPECT_THROW(layer.output_shape({{2, 4, 5}}), Error);
  EXPECT_THROW(NodeClassifier(0, 5), Error);
}

TEST(GcnLayers, GlobalMaxPoolTakesEachPlanesPeak) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 4, 5}, rng);
  GlobalMaxPool layer;
  const std::vector<double> xs = values_of(x), ys = values_of(layer.forward({x}, Mode::eval));
  for (size_t p = 0; p < 6; ++p)
    EXPECT_EQ(ys[p], *std::max_element(xs.begin() + long(p * 20), xs.begin() + long(p * 20 + 20)));
}

TEST(GcnLayers, ScaleMultipliesByItsFactor) {
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({3, 4}, rng);
  Scale layer(0.5);
  EXPECT_EQ(layer.describe(), "scale 0.5");
  const std::vector<double> xs = values_of(x), ys = values_of(layer.forward({x}, Mode::eval));
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(ys[i], 0.5 * xs[i]);
}

// ---- gradients --------------------------------------------------------------------------------

TEST(GcnLayers, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  SemanticAttention attention;
  test::check_gradients(attention, {test::random_tensor({2, 3, 3, 4}, rng), test::random_tensor({2, 5, 3, 4}, rng)},
                        rng);
  auto learned = GraphPropagation::learned(4);
  test::check_gradients(*learned, {test::random_tensor({3, 4, 5}, rng)}, rng);
  auto dynamic = GraphPropagation::from_input();
  test::check_gradients(*dynamic, {test::random_tensor({3, 4, 4}, rng), test::random_tensor({3, 4, 5}, rng)}, rng);
  NodeConcat concat;
  test::check_gradients(concat, {test::random_tensor({2, 3, 4}, rng), test::random_tensor({2, 5}, rng)}, rng);
  NodeClassifier classifier(4, 6);
  test::check_gradients(classifier, {test::random_tensor({3, 4, 6}, rng)}, rng);
  NodeClassifier without_bias(4, 6, false);
  test::check_gradients(without_bias, {test::random_tensor({3, 4, 6}, rng)}, rng);
  GlobalMaxPool max_pool;
  test::check_gradients(max_pool, {test::random_tensor({2, 3, 4, 5}, rng)}, rng);
  Scale scale(-0.75);
  test::check_gradients(scale, {test::random_tensor({3, 4}, rng)}, rng);
}

TEST(GcnLayers, FrozenAdjacencyAndClassifierGetNoGradient) {
  auto rng = test::test_rng();
  auto learned = GraphPropagation::learned(3);
  learned->to(Device::cpu(), DType::f64);
  Parameter& adjacency = *learned->parameters()[0].second;
  adjacency.requires_grad = false;
  adjacency.grad.fill_(7.0);
  learned->forward({test::random_tensor({2, 3, 4}, rng).cast(DType::f64)}, Mode::train);
  EXPECT_TRUE(learned->backward(test::random_tensor({2, 3, 4}, rng).cast(DType::f64), {true})[0].defined());
  for (double g : values_of(adjacency.grad)) ASSERT_EQ(g, 7.0);

  NodeClassifier classifier(3, 4);
  classifier.to(Device::cpu(), DType::f64);
  for (auto& [name, p] : classifier.parameters()) {
    p->requires_grad = false;
    p->grad.fill_(7.0);
  }
  classifier.forward({test::random_tensor({2, 3, 4}, rng).cast(DType::f64)}, Mode::train);
  EXPECT_FALSE(classifier.backward(test::random_tensor({2, 3}, rng).cast(DType::f64), {false})[0].defined());
  for (auto& [name, p] : classifier.parameters())
    for (double g : values_of(p->grad)) ASSERT_EQ(g, 7.0) << name;
}

// ---- devices --------------------------------------------------------------------------------

class GcnLayersOnDevices : public testing::TestWithParam<Device> {};

// Sizes cross the batched GEMM's 16-wide tiles (17 nodes, 19 features, 5×4 planes).
TEST_P(GcnLayersOnDevices, AgreeWithCpu) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  test::check_devices_agree([] { return std::make_unique<SemanticAttention>(); },
                            {test::random_tensor({3, 17, 5, 4}, rng), test::random_tensor({3, 19, 5, 4}, rng)}, device,
                            rng, kGcnTolerances);
  test::check_devices_agree([] { return GraphPropagation::learned(17); }, {test::random_tensor({3, 17, 19}, rng)},
                            device, rng, kGcnTolerances);
  test::check_devices_agree([] { return GraphPropagation::from_input(); },
                            {test::random_tensor({3, 17, 17}, rng), test::random_tensor({3, 17, 19}, rng)}, device, rng,
                            kGcnTolerances);
  test::check_devices_agree([] { return std::make_unique<NodeConcat>(); },
                            {test::random_tensor({3, 17, 19}, rng), test::random_tensor({3, 7}, rng)}, device, rng,
                            kGcnTolerances);
  test::check_devices_agree([] { return std::make_unique<NodeClassifier>(17, 19); },
                            {test::random_tensor({3, 17, 19}, rng)}, device, rng, kGcnTolerances);
  test::check_devices_agree([] { return std::make_unique<GlobalMaxPool>(); }, {test::random_tensor({3, 17, 5, 4}, rng)},
                            device, rng, kExact);
  test::check_devices_agree([] { return std::make_unique<Scale>(0.5); }, {test::random_tensor({3, 17}, rng)}, device,
                            rng, kExact);
}

// Every transpose combination, a shared (stride 0) operand, beta ≠ 0, sizes off the tile grid.
TEST_P(GcnLayersOnDevices, BatchedGemmAgreesWithCpu) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  const int64_t batch = 3, m = 18, n = 21, k = 35;
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (bool shared_a : {false, true}) {
        SCOPED_TRACE(fmt::format("trans_a {} trans_b {} shared_a {}", trans_a, trans_b, shared_a));
        const Tensor a = test::random_tensor({shared_a ? 1 : batch, m * k}, rng);
        const Tensor b = test::random_tensor({batch, k * n}, rng), c = test::random_tensor({batch, m * n}, rng);
        auto run = [&](Device on) {
          const Tensor a_on = a.to(on), b_on = b.to(on);
          Tensor c_on = c.to(on).clone();
          I2V_DISPATCH(on, batched_gemm, trans_a, trans_b, batch, m, n, k, 0.5f, a_on.data<float>(), trans_a ? m : k,
                       shared_a ? 0 : m * k, b_on.data<float>(), trans_b ? k : n, k * n, 0.25f, c_on.data<float>(), n,
                       m * n);
          return values_of(c_on);
        };
        const std::vector<double> want = run(Device::cpu()), got = run(device);
        for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << i;
      }
  Tensor c = Tensor::zeros({4}, DType::f32, device);
  EXPECT_THROW(I2V_DISPATCH(device, batched_gemm, false, false, 2, 2, 2, 1, 1.0f, c.data<float>(), 1, 0,
                            c.data<float>(), 2, 0, 0.0f, c.data<float>(), 2, 0),
               Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, GcnLayersOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

// ---- a whole head, wired by a config ------------------------------------------------------------

// The paper's head over a 4 × 3 × 3 "feature map" input (no backbone), 5 categories, a 3-wide
// caption feature: every GCN layer, the linear layers over node features, the LeakyReLUs and the
// averaged scores.
json head_config() {
  auto layer = [](const char* name, const char* type, json fields = json::object()) {
    fields["name"] = name;
    fields["type"] = type;
    return fields;
  };
  return {{"name", "gcn-head"},
          {"input", json::array({4, 3, 3})},
          {"outputs", 5},
          {"auxiliary_inputs", {{"caption", json::array({3})}}},
          {"layers",
           json::array({layer("cam", "conv2d", {{"out_channels", "outputs"}, {"kernel", 1}, {"bias", false}, {"inputs", json::array({"input"})}}),
            layer("score", "global_max_pool"),
            layer("attention", "sigmoid", {{"inputs", json::array({"cam"})}}),
            layer("nodes", "semantic_attention", {{"inputs", json::array({"attention", "input"})}}),
            layer("static_adj", "static_graph"),
            layer("static_weight", "linear", {{"out_features", 6}}),
            layer("static_relu", "leaky_relu", {{"slope", 0.2}}),
            layer("with_caption", "node_concat", {{"inputs", json::array({"static_relu", "caption"})}}),
            layer("dynamic_adj", "linear", {{"out_features", "outputs"}}),
            layer("dynamic_sigmoid", "sigmoid"),
            layer("dynamic", "dynamic_graph", {{"inputs", json::array({"dynamic_sigmoid", "static_relu"})}}),
            layer("dynamic_weight", "linear", {{"out_features", 6}}),
            layer("dynamic_relu", "leaky_relu", {{"slope", 0.2}}),
            layer("classifier", "node_classifier"),
            layer("sum", "add", {{"inputs", json::array({"score", "classifier"})}}),
            layer("mean", "scale", {{"factor", 0.5}})})}};
}

// A model as one layer over its picture input, with a fixed auxiliary input, for the shared
// gradient checker and the device comparison.
class HeadAsLayer final : public Layer {
 public:
  explicit HeadAsLayer(const Tensor& caption) : model_(build_model(head_config())), caption_(caption) {}
  std::string kind() const override { return "gcn-head"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return {inputs[0][0], 5}; }
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override {
    const Tensor caption = caption_.cast(inputs[0].dtype()).to(inputs[0].device());
    return model_.forward(inputs[0], {{"caption", caption}}, mode);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& need) override {
    return {model_.backward(dy, need[0])};
  }
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return model_.parameters(); }

 private:
  Model model_;
  Tensor caption_;
};

TEST(GcnHead, ConfigBuildsThePapersHead) {
  Model model = build_model(head_config());
  EXPECT_EQ(model.auxiliary_inputs().at("caption"), (Shape{3}));
  std::map<std::string, Shape> shapes;
  for (const LayerSummary& row : model.summary(2)) shapes[row.name] = row.output_shape;
  EXPECT_EQ(shapes.at("nodes"), (Shape{2, 5, 4}));
  EXPECT_EQ(shapes.at("with_caption"), (Shape{2, 5, 9}));
  EXPECT_EQ(shapes.at("dynamic_adj"), (Shape{2, 5, 5}));
  EXPECT_EQ(shapes.at("mean"), (Shape{2, 5}));
  EXPECT_EQ(model.state_dict().at("static_adj.weight").shape(), (Shape{5, 5}));
  EXPECT_EQ(model.state_dict().at("classifier.weight").shape(), (Shape{5, 6}));
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 4, 3, 3}, rng);
  EXPECT_THROW(model.forward(x, Mode::eval), Error) << "the caption is missing";
  EXPECT_THROW(model.forward(x, {{"caption", test::random_tensor({2, 4}, rng)}}, Mode::eval), Error);
  EXPECT_EQ(model.forward(x, {{"caption", test::random_tensor({2, 3}, rng)}}, Mode::eval).shape(), (Shape{2, 5}));
  json clash = head_config();
  clash["layers"][0]["name"] = "caption";
  EXPECT_THROW(build_model(clash), Error);
}

TEST(GcnHead, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  HeadAsLayer head(test::random_tensor({2, 3}, rng));
  test::check_gradients(head, {test::random_tensor({2, 4, 3, 3}, rng)}, rng);
}

class GcnHeadOnDevices : public testing::TestWithParam<Device> {};

TEST_P(GcnHeadOnDevices, AgreesWithCpu) {
  auto rng = test::test_rng();
  const Tensor caption = test::random_tensor({3, 3}, rng);
  // Parameters are N(0, 1) here, so the head's values grow through six products and their
  // float rounding with them; the sums that cancel (weight gradients of ~0.3 from terms of ~10)
  // differ by up to ~1e-4 relative. Each layer alone is held to 1e-5 above.
  const test::Tolerance loose{1e-3, 1e-4};
  test::Tolerances tolerances;
  for (const char* name : {"output", "grad_input0"}) tolerances[name] = loose;
  for (auto& [name, p] : HeadAsLayer(caption).parameters()) tolerances["grad_" + name] = loose;
  test::check_devices_agree([&] { return std::make_unique<HeadAsLayer>(caption); },
                            {test::random_tensor({3, 4, 3, 3}, rng)}, GetParam(), rng, tolerances);
}

INSTANTIATE_TEST_SUITE_P(Devices, GcnHeadOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
