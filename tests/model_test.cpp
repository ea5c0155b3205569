// Model: naming, the branching graph's forward and backward, frozen layers, state dicts.
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/relu.h"
#include "nn/model.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// y[n, c] = w[c] · x[n, c]: a minimal trainable layer (cpu only) for exercising the model. Its
// weight is [C, 1], an [out, in] weight as initialisers expect.
class Scale final : public Layer {
 public:
  explicit Scale(int64_t channels) : weight_(make_parameter({channels, 1})) {}
  std::string kind() const override { return "scale"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    I2V_CHECK(inputs.size() == 1 && inputs[0].size() == 2 && inputs[0][1] == weight_.value.size(0), "scale: bad input");
    return inputs[0];
  }
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override {
    x_ = mode == Mode::train ? inputs[0] : Tensor();
    return apply(inputs[0], weight_.value);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& need) override {
    ++backward_calls;
    if (weight_.requires_grad) {
      const std::vector<double> x = x_.cast(DType::f64).to_vector<double>(), g = dy.cast(DType::f64).to_vector<double>();
      std::vector<double> dw = weight_.grad.cast(DType::f64).to_vector<double>();
      const size_t c = dw.size();
      for (size_t i = 0; i < x.size(); ++i) dw[i % c] += x[i] * g[i];
      weight_.grad = Tensor::from_vector(dw, weight_.grad.shape()).cast(weight_.grad.dtype());
    }
    return {need[0] ? apply(dy, weight_.value) : Tensor()};
  }
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return {{"weight", &weight_}}; }
  int backward_calls = 0;

 private:
  static Tensor apply(const Tensor& x, const Tensor& w) {
    const std::vector<double> xs = x.cast(DType::f64).to_vector<double>(), ws = w.cast(DType::f64).to_vector<double>();
    std::vector<double> y(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) y[i] = xs[i] * ws[i % ws.size()];
    return Tensor::from_vector(y, x.shape()).cast(x.dtype());
  }
  Parameter weight_;
  Tensor x_;
};

// y = a + b (cpu only).
class Sum final : public Layer {
 public:
  std::string kind() const override { return "sum"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    I2V_CHECK(inputs.size() == 2 && inputs[0] == inputs[1], "sum: two inputs of one shape");
    return inputs[0];
  }
  Tensor forward(const std::vector<Tensor>& inputs, Mode) override {
    std::vector<double> a = inputs[0].cast(DType::f64).to_vector<double>();
    const std::vector<double> b = inputs[1].cast(DType::f64).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    return Tensor::from_vector(a, inputs[0].shape()).cast(inputs[0].dtype());
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& need) override {
    return {need[0] ? dy : Tensor(), need[1] ? dy : Tensor()};
  }
};

// A residual block: s1 -> relu -> s2, plus s1 again, summed: input -> s1 -> r -> s2 -> sum(s2, s1).
Model residual_model(int64_t channels) {
  Model model("residual", {channels});
  model.add("s1", std::make_unique<Scale>(channels));
  model.add("r", std::make_unique<ReLU>());
  model.add("s2", std::make_unique<Scale>(channels));
  model.add("sum", std::make_unique<Sum>(), {"s2", "s1"});
  return model;
}

// The model as one layer, so the shared gradient checker can differentiate it end to end.
class ModelAsLayer final : public Layer {
 public:
  explicit ModelAsLayer(Model& model) : model_(model) {}
  std::string kind() const override { return "model"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inputs[0]; }
  Tensor forward(const std::vector<Tensor>& inputs, Mode mode) override { return model_.forward(inputs[0], mode); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& need) override {
    return {model_.backward(dy, need[0])};
  }
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return model_.parameters(); }

 private:
  Model& model_;
};

TEST(Model, NamesParametersByLayer) {
  Model model = residual_model(3);
  std::vector<std::string> names;
  for (auto& [name, p] : model.parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"s1.weight", "s2.weight"}));
  EXPECT_EQ(model.parameter_count(), 6);
  EXPECT_THROW(model.add("s1", std::make_unique<ReLU>()), Error);
  EXPECT_THROW(model.add("x", std::make_unique<ReLU>(), {"nowhere"}), Error);
  EXPECT_THROW(model.add("bad", std::make_unique<Scale>(4)), Error) << "shape mismatch caught when added";
  EXPECT_FALSE(model.has_node("bad"));
}

TEST(Model, BranchingGradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  Model model = residual_model(4);
  ModelAsLayer layer(model);
  test::check_gradients(layer, {test::random_tensor({3, 4}, rng)}, rng);
}

TEST(Model, ForwardUntilALayer) {
  auto rng = test::test_rng();
  Model model = residual_model(2);
  test::randomize_parameters(*model.nodes()[0].layer, rng);
  const Tensor x = test::random_tensor({5, 2}, rng);
  const Tensor s1 = model.forward(x, Mode::eval, "s1");
  const std::vector<float> xs = x.to_vector<float>(), ys = s1.to_vector<float>();
  const std::vector<float> w = model.state_dict().at("s1.weight").to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_FLOAT_EQ(ys[i], xs[i] * w[i % 2]);
  EXPECT_THROW(model.forward(x, Mode::eval, "missing"), Error);
  EXPECT_THROW(model.forward(test::random_tensor({5, 3}, rng), Mode::eval), Error);
}

TEST(Model, FrozenFirstLayerGetsNoGradientWork) {
  auto rng = test::test_rng();
  Model model = residual_model(3);
  model.initialize(1);
  for (auto& [name, p] : model.layer("s1").parameters()) p->requires_grad = false;
  model.zero_grad();
  model.forward(test::random_tensor({2, 3}, rng), Mode::train);
  model.backward(test::random_tensor({2, 3}, rng));
  EXPECT_EQ(static_cast<Scale&>(model.layer("s1")).backward_calls, 0) << "nothing to train at or before s1";
  EXPECT_EQ(static_cast<Scale&>(model.layer("s2")).backward_calls, 1);
  for (float g : model.parameters()[0].second->grad.to_vector<float>()) EXPECT_EQ(g, 0.0f);
}

TEST(Model, StateDictRoundTripAndClearErrors) {
  auto rng = test::test_rng();
  Model a = residual_model(3), b = residual_model(3);
  test::randomize_parameters(*a.nodes()[0].layer, rng);
  test::randomize_parameters(*a.nodes()[2].layer, rng);
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.state_dict().at("s2.weight").to_vector<float>(), a.state_dict().at("s2.weight").to_vector<float>());

  std::map<std::string, Tensor> wrong = a.state_dict();
  wrong.erase("s1.weight");
  wrong["s2.weight"] = Tensor::zeros({4, 1});
  wrong["extra.bias"] = Tensor::zeros({1});
  try {
    b.load_state_dict(wrong);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("missing: s1.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("s2.weight (file [4, 1], model [3, 1])"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected: extra.bias"), std::string::npos) << message;
  }
}

// Released weights are often bf16: loading them widens each value exactly into the f32
// parameters, which stay f32 (the master weights), and the note says so.
TEST(Model, LoadsBf16WeightsIntoF32Parameters) {
  auto rng = test::test_rng();
  Model a = residual_model(3), b = residual_model(3);
  test::randomize_parameters(*a.nodes()[0].layer, rng);
  test::randomize_parameters(*a.nodes()[2].layer, rng);
  std::map<std::string, Tensor> bf16;
  for (const auto& [name, tensor] : a.state_dict()) bf16[name] = tensor.cast(DType::bf16);
  b.load_state_dict(bf16);
  for (const auto& [name, tensor] : b.state_dict()) {
    EXPECT_EQ(tensor.dtype(), DType::f32) << name;
    const std::vector<float> original = a.state_dict().at(name).to_vector<float>(), loaded = tensor.to_vector<float>();
    for (size_t i = 0; i < original.size(); ++i) EXPECT_EQ(loaded[i], bf16_value(to_bf16(original[i]))) << name;
  }
  EXPECT_EQ(bf16_widening_note(bf16, "w.safetensors"),
            "note: w.safetensors holds 2 bf16 tensors (6 values), widened exactly to the model's f32 parameters");
  EXPECT_EQ(bf16_widening_note(a.state_dict(), "w.safetensors"), "");
}

TEST(Model, SummaryCountsShapesAndParameters) {
  Model model = residual_model(3);
  const auto rows = model.summary(8);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[3].output_shape, (Shape{8, 3}));
  EXPECT_EQ(rows[0].parameters, 3);
  EXPECT_NE(model.summary_table(8).find("total: 6 parameters"), std::string::npos) << model.summary_table(8);
}

TEST(Model, InitialisationIsSeeded) {
  Model a = residual_model(16), b = residual_model(16), c = residual_model(16);
  a.initialize(7);
  b.initialize(7);
  c.initialize(8);
  EXPECT_EQ(a.state_dict().at("s1.weight").to_vector<float>(), b.state_dict().at("s1.weight").to_vector<float>());
  EXPECT_NE(a.state_dict().at("s1.weight").to_vector<float>(), c.state_dict().at("s1.weight").to_vector<float>());
}

}  // namespace
}  // namespace i2v
