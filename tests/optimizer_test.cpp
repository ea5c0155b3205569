// SGD (PyTorch semantics, per-layer multipliers, freezing, the same on every device) and the
// learning-rate schedules.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/sgd.h"
#include "nn/layers/relu.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// A layer holding one [n, 1] parameter and nothing else, to drive the optimizer directly.
class Holder final : public Layer {
 public:
  explicit Holder(int64_t n) : p_(make_parameter({n, 1})) {}
  std::string kind() const override { return "holder"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inputs[0]; }
  Tensor forward(const std::vector<Tensor>& inputs, Mode) override { return inputs[0]; }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) override { return {dy}; }
  std::vector<std::pair<std::string, Parameter*>> parameters() override { return {{"weight", &p_}}; }

 private:
  Parameter p_;
};

Model two_holders(int64_t n) {
  Model model("holders", {1});
  model.add("a", std::make_unique<Holder>(n));
  model.add("b", std::make_unique<Holder>(n));
  return model;
}

Parameter& param(Model& model, const std::string& layer) { return *model.layer(layer).parameters()[0].second; }

TEST(Sgd, FollowsPyTorchsMomentumAndWeightDecay) {
  // torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1) from w = 1 with grad 0.5 twice:
  // step 1: d = 0.6, v = 0.6, w = 0.94; step 2: d = 0.594, v = 1.134, w = 0.8266.
  Model model = two_holders(1);
  param(model, "a").value.fill_(1.0);
  param(model, "a").grad.fill_(0.5);
  Sgd sgd(model, SgdOptions{0.9, 0.1});
  sgd.step(0.1);
  EXPECT_NEAR(param(model, "a").value.item<float>({0, 0}), 0.94f, 1e-7);
  sgd.step(0.1);
  EXPECT_NEAR(param(model, "a").value.item<float>({0, 0}), 0.8266f, 1e-6);
  EXPECT_NEAR(sgd.state().at("a.weight.momentum").item<float>({0, 0}), 1.134f, 1e-6);
}

TEST(Sgd, LayerMultipliersScaleTheUpdateExactlyAndZeroFreezes) {
  auto rng = test::test_rng();
  Model model = two_holders(5);
  for (const char* layer : {"a", "b"}) {
    param(model, layer).value = test::random_tensor({5, 1}, rng);
    param(model, layer).grad = test::random_tensor({5, 1}, rng);
  }
  const std::vector<float> a0 = param(model, "a").value.to_vector<float>(), b0 = param(model, "b").value.to_vector<float>();
  const std::vector<float> ga = param(model, "a").grad.to_vector<float>();
  Sgd sgd(model, SgdOptions{0.0, 0.0}, {{"a", {0.01, 1.0}}, {"b", {0.0, 1.0}}});
  EXPECT_FALSE(param(model, "b").requires_grad);
  sgd.step(0.5);
  const std::vector<float> a1 = param(model, "a").value.to_vector<float>();
  for (size_t i = 0; i < a0.size(); ++i) EXPECT_EQ(a1[i], a0[i] - float(0.5 * 0.01) * ga[i]);
  EXPECT_EQ(param(model, "b").value.to_vector<float>(), b0) << "a frozen layer does not move";
}

TEST(Sgd, ClipsTheGlobalGradientNorm) {
  // Gradients of norm 10 clipped to 2: the step is that of the gradients times 0.2.
  Model model = two_holders(1);
  param(model, "a").value.fill_(1.0);
  param(model, "a").grad.fill_(6.0);
  param(model, "b").value.fill_(1.0);
  param(model, "b").grad.fill_(8.0);
  SgdOptions options{0.0, 0.0};
  options.clip_norm = 2.0;
  Sgd sgd(model, options);
  EXPECT_DOUBLE_EQ(sgd.step(0.1, 10.0), 0.2);
  EXPECT_FLOAT_EQ(param(model, "a").value.item<float>({0, 0}), 1.0f - 0.1f * 0.2f * 6.0f);
  EXPECT_FLOAT_EQ(param(model, "b").value.item<float>({0, 0}), 1.0f - 0.1f * 0.2f * 8.0f);
  EXPECT_DOUBLE_EQ(sgd.step(0.1, 1.0), 1.0) << "under the limit: unchanged";
}

TEST(Sgd, LayerRateRulesByNameAndPattern) {
  Model model = two_holders(2);
  const auto rates = parse_layer_rates(nlohmann::json::parse(R"([{"pattern": ".*", "lr_mult": 0.5},
                                                                  {"layers": ["b"], "lr_mult": 0, "decay_mult": 2}])"),
                                       model);
  EXPECT_EQ(rates.at("a").lr_mult, 0.5);
  EXPECT_EQ(rates.at("b").lr_mult, 0.0);
  EXPECT_EQ(rates.at("b").decay_mult, 2.0);
  EXPECT_THROW(parse_layer_rates(nlohmann::json::parse(R"([{"layers": ["zzz"]}])"), model), Error);
  EXPECT_THROW(parse_layer_rates(nlohmann::json::parse(R"([{"pattern": "zzz"}])"), model), Error);
  try {
    parse_layer_rates(nlohmann::json::parse(R"([{"pattern": "conv[1-"}])"), model);
    ADD_FAILURE() << "a bad pattern is an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular expression"), std::string::npos) << e.what();
  }
}

TEST(Sgd, StateRoundTripContinuesIdentically) {
  auto rng = test::test_rng();
  Model a = two_holders(4), b = two_holders(4);
  param(a, "a").value = test::random_tensor({4, 1}, rng);
  param(a, "a").grad = test::random_tensor({4, 1}, rng);
  Sgd sgd_a(a, SgdOptions{0.9, 1e-3});
  sgd_a.step(0.1);
  b.load_state_dict(a.state_dict());
  param(b, "a").grad = param(a, "a").grad.clone();
  Sgd sgd_b(b, SgdOptions{0.9, 1e-3});
  sgd_b.load_state(sgd_a.state(), sgd_a.steps_taken());
  sgd_a.step(0.1);
  sgd_b.step(0.1);
  EXPECT_EQ(param(a, "a").value.to_vector<float>(), param(b, "a").value.to_vector<float>());
}

class SgdKernel : public testing::TestWithParam<Device> {};

TEST_P(SgdKernel, AgreesWithCpu) {
  auto rng = test::test_rng();
  const int64_t n = 1000;
  const Tensor w = test::random_tensor({n}, rng), g = test::random_tensor({n}, rng), v = test::random_tensor({n}, rng);
  for (bool first : {true, false}) {
    for (float momentum : {0.0f, 0.9f}) {
      Tensor wc = w.clone(), vc = v.clone();
      Tensor wd = w.to(GetParam()).clone(), vd = v.to(GetParam()).clone(), gd = g.to(GetParam());
      cpu::sgd_step(n, wc.data<float>(), g.data<float>(), vc.data<float>(), 0.05f, momentum, 5e-4f, 0.5f, first);
      I2V_DISPATCH(GetParam(), sgd_step, n, wd.data<float>(), gd.data<float>(), vd.data<float>(), 0.05f, momentum, 5e-4f,
                   0.5f, first);
      EXPECT_EQ(wd.to_vector<float>(), wc.to_vector<float>()) << "the same float operations in the same order";
      if (momentum != 0) {
        EXPECT_EQ(vd.to_vector<float>(), vc.to_vector<float>());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, SgdKernel, testing::ValuesIn(test::gpu_devices()), test::device_name);

TEST(LrSchedule, StepMultistepAndWarmup) {
  const LrSchedule step = LrSchedule::from_json({{"lr", 0.1}, {"type", "step"}, {"step_epochs", 2}, {"gamma", 0.5}});
  EXPECT_DOUBLE_EQ(step.lr(0, 1), 0.1);
  EXPECT_DOUBLE_EQ(step.lr(0, 2), 0.05);
  EXPECT_DOUBLE_EQ(step.lr(0, 5), 0.025);
  const LrSchedule multi = LrSchedule::from_json(
      {{"lr", 1.0}, {"type", "multistep"}, {"milestones", {3, 5}}, {"gamma", 0.1}, {"warmup_steps", 10}});
  EXPECT_DOUBLE_EQ(multi.lr(0, 0), 0.1) << "warm-up starts at 0.1 of the rate";
  EXPECT_DOUBLE_EQ(multi.lr(5, 0), 0.55);
  EXPECT_DOUBLE_EQ(multi.lr(10, 2), 1.0);
  EXPECT_DOUBLE_EQ(multi.lr(100, 3), 0.1);
  EXPECT_NEAR(multi.lr(100, 6), 0.01, 1e-15);
  EXPECT_THROW(LrSchedule::from_json({{"type", "cosine"}}), Error);
}

TEST(LrSchedule, TakesOnlyTheFieldsOfItsType) {
  auto refusal = [](const nlohmann::json& config) -> std::string {
    try {
      LrSchedule::from_json(config);
    } catch (const Error& e) {
      return e.message();
    }
    return "accepted";
  };
  EXPECT_EQ(refusal({{"type", "step"}, {"gamma", 0.5}}), "accepted");
  // A plateau schedule has no gamma: the typo is not taken for one.
  const std::string plateau = refusal({{"type", "plateau"}, {"gama", 0.5}});
  EXPECT_EQ(plateau.rfind("config field schedule.gama: unknown (known here: lr, type, factor,", 0), 0u) << plateau;
  EXPECT_NE(refusal({{"type", "step"}, {"gama", 0.5}}).find("did you mean \"gamma\""), std::string::npos);
  EXPECT_NE(refusal({{"type", "plateau"}, {"gamma", 0.5}}).find("schedule.gamma: unknown"), std::string::npos);
}

TEST(LrSchedule, PlateauReducesAfterPatienceAsPyTorch) {
  // ReduceLROnPlateau(factor=0.5, patience=1, threshold=1e-4, cooldown=1) fed these losses:
  LrSchedule s = LrSchedule::from_json(
      {{"lr", 1.0}, {"type", "plateau"}, {"factor", 0.5}, {"patience", 1}, {"cooldown", 1}});
  const double losses[] = {1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.5};
  const double expected_after[] = {1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25};
  for (int i = 0; i < 8; ++i) {
    s.on_validation(losses[i]);
    EXPECT_DOUBLE_EQ(s.lr(1000, 0), expected_after[i]) << "after validation " << i;
  }
  LrSchedule restored = LrSchedule::from_json({{"lr", 1.0}, {"type", "plateau"}, {"factor", 0.5}, {"patience", 1}});
  restored.load_state(s.state());
  EXPECT_DOUBLE_EQ(restored.lr(1000, 0), 0.25);
}

}  // namespace
}  // namespace i2v
