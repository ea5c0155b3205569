// Activations passed from layer to layer in bf16 at bf16 precision, as under PyTorch's bf16
// autocast (nn/layer.h's Layer::bf16(), applied by nn/model.cpp), on every device:
//   - a layer that passes bf16 through (the elementwise activations, max pooling, Conv2d) gives
//     for a bf16 input exactly what it gives in f32 for the widened input, rounded to bf16 —
//     forward and backward, for every bf16 value, also where the work goes in pieces
//     (nn/layers/kept_activation.h);
//     a convolution's weight gradient summed over pieces agrees to f32's rounding;
//   - a model hands its convolutions, activations and pooling bf16 and gets bf16 from them, rounds
//     its linear layers' outputs to bf16, widens for every other layer and hands out f32; the
//     gradients take the same dtypes, summed in f32 where an output has two readers;
//   - the model's results move by about one rounding from passing f32, and what its forward keeps
//     for the backward pass is bf16.
#include <functional>
#include <map>
#include <memory>

#include <gtest/gtest.h>

#include "kernels/allocator.h"
#include "kernels/precision.h"
#include "nn/layers/add.h"
#include "nn/layers/batch_norm2d.h"
#include "nn/layers/conv2d.h"
#include "nn/layers/global_avg_pool.h"
#include "nn/layers/leaky_relu.h"
#include "nn/layers/linear.h"
#include "nn/layers/max_pool2d.h"
#include "nn/layers/relu.h"
#include "nn/layers/scale.h"
#include "nn/layers/sigmoid.h"
#include "nn/model.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::rounded_bf16;

using LayerFactory = std::function<std::unique_ptr<Layer>()>;

// bf16 values of `shape` in [-1, 1) on `device`, as a bf16 tensor.
Tensor random_bf16(const Shape& shape, std::mt19937_64& rng, Device device) {
  return test::random_tensor(shape, rng, device).cast(DType::bf16);
}

// The bits of a bf16 tensor; and of an f32 one rounded to bf16 (a NaN to the canonical 0x7fff).
std::vector<uint16_t> bf16_bits(const Tensor& x) {
  std::vector<uint16_t> bits;
  for (const bfloat16 value : x.to_vector<bfloat16>()) bits.push_back(value.bits);
  return bits;
}
std::vector<uint16_t> rounded_bits(const Tensor& x) { return bf16_bits(x.cast(DType::bf16)); }

// Runs a layer made by `make` on the bf16 x and dy, and another on them widened to f32, and
// expects the first's output and input gradient to be bf16 and the second's rounded, bit for bit.
void expect_passed_as_f32_rounded(const std::string& name, const LayerFactory& make, const Tensor& x,
                                  std::mt19937_64& rng) {
  SCOPED_TRACE(name);
  PrecisionScope bf16(Precision::bf16);
  const std::unique_ptr<Layer> passed = make(), reference = make();
  EXPECT_EQ(passed->bf16(), Layer::Bf16::passed);
  const Tensor y = passed->forward({x}, Mode::train);
  const Tensor y_f32 = reference->forward({x.cast(DType::f32)}, Mode::train);
  ASSERT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(bf16_bits(y), rounded_bits(y_f32));

  const Tensor dy = random_bf16(y.shape(), rng, x.device());
  const Tensor dx = passed->backward(dy, {true}).at(0);
  const Tensor dx_f32 = reference->backward(dy.cast(DType::f32), {true}).at(0);
  ASSERT_EQ(dx.dtype(), DType::bf16);
  EXPECT_EQ(bf16_bits(dx), rounded_bits(dx_f32));
}

const std::map<std::string, LayerFactory>& passing_layers() {
  static const std::map<std::string, LayerFactory> layers = {
      {"relu", [] { return std::make_unique<ReLU>(); }},
      {"leaky_relu", [] { return std::make_unique<LeakyReLU>(0.1); }},
      {"sigmoid", [] { return std::make_unique<Sigmoid>(); }},
      {"scale", [] { return std::make_unique<Scale>(0.3); }},
      {"max_pool2d k2", [] { return std::make_unique<MaxPool2d>(2); }},
      {"max_pool2d k3 s2 p1 (overlapping windows)", [] { return std::make_unique<MaxPool2d>(3, 2, 1); }},
  };
  return layers;
}

class Bf16LayersTest : public testing::TestWithParam<Device> {};

TEST_P(Bf16LayersTest, APassingLayerComputesInF32AndRounds) {
  auto rng = test::test_rng();
  const Tensor x = random_bf16({2, 4, 10, 10}, rng, GetParam());
  for (const auto& [name, make] : passing_layers()) expect_passed_as_f32_rounded(name, make, x, rng);
}

// Every bf16 value as an input, NaNs, infinities, zeros and subnormals among them (the
// activations' kernels compute bf16 elements themselves: kernels/activation.h).
TEST_P(Bf16LayersTest, EveryBf16ValueComputesAsInF32Rounded) {
  auto rng = test::test_rng();
  std::vector<bfloat16> every(65536);
  for (uint32_t bits = 0; bits < 65536; ++bits) every[bits] = bfloat16::from_bits(uint16_t(bits));
  const Tensor x = Tensor::from_vector(every, {1, 4, 128, 128}, GetParam());
  for (const auto& [name, make] : passing_layers()) expect_passed_as_f32_rounded(name, make, x, rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, Bf16LayersTest, testing::ValuesIn(test::all_devices()), test::device_name);

// Large tensors (all threads on the cpu; a pooling layer's pieces, nn/layers/kept_activation.h's
// piece_elements, hold whole planes): the same bits as one f32 pass.
TEST(Bf16Layers, LargeTensorsGiveWhatOnePassGives) {
  auto rng = test::test_rng();
  const Tensor x = random_bf16({2, 128, 130, 128}, rng, Device::cpu());  // 4.26 Mi elements: 5 pieces
  for (const char* name : {"relu", "sigmoid", "scale", "max_pool2d k3 s2 p1 (overlapping windows)"})
    expect_passed_as_f32_rounded(name, passing_layers().at(name), x, rng);
}

// A convolution passing bf16 (a piece of images at a time, kept_activation.h) against one on the
// widened input, both with the same weights: output and input gradient are the f32 layer's
// rounded, bit for bit (an image's sums do not depend on the images beside it); so are the
// weight and bias gradients where the batch is one piece, and within f32's rounding where they
// are summed over pieces.
void expect_conv_passed_as_f32_rounded(const Shape& x_shape, Device device, int64_t pieces) {
  SCOPED_TRACE(shape_str(x_shape));
  auto rng = test::test_rng();
  PrecisionScope bf16(Precision::bf16);
  Conv2d passed(x_shape[1], x_shape[1], 3, 1, 1), reference(x_shape[1], x_shape[1], 3, 1, 1);
  // A piece holds the images that many elements hold (conv2d.h); the reference's groups alike.
  const int64_t budget = shape_numel(x_shape) / pieces;
  passed.set_workspace_budget(budget);
  reference.set_workspace_budget(budget);
  test::randomize_parameters(passed, rng, 0.1);
  for (size_t k = 0; k < 2; ++k) reference.parameters()[k].second->value = passed.parameters()[k].second->value.clone();
  passed.to(device);
  reference.to(device);
  EXPECT_EQ(passed.bf16(), Layer::Bf16::passed);
  const Tensor x = random_bf16(x_shape, rng, device);
  const Tensor y = passed.forward({x}, Mode::train), y_f32 = reference.forward({x.cast(DType::f32)}, Mode::train);
  ASSERT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(y.cast(DType::f32).to_vector<float>(), rounded_bf16(y_f32.to_vector<float>()));

  const Tensor dy = random_bf16(y.shape(), rng, device);
  const Tensor dx = passed.backward(dy, {true}).at(0), dx_f32 = reference.backward(dy.cast(DType::f32), {true}).at(0);
  ASSERT_EQ(dx.dtype(), DType::bf16);
  EXPECT_EQ(dx.cast(DType::f32).to_vector<float>(), rounded_bf16(dx_f32.to_vector<float>()));
  for (size_t k = 0; k < 2; ++k) {
    const Tensor& grad = passed.parameters()[k].second->grad;
    const Tensor& expected = reference.parameters()[k].second->grad;
    if (pieces == 1)
      EXPECT_EQ(grad.to_vector<float>(), expected.to_vector<float>()) << passed.parameters()[k].first;
    else
      test::expect_normwise_close(passed.parameters()[k].first, grad, expected, 1e-5);
  }
}

TEST_P(Bf16LayersTest, AConvolutionComputesInF32AndRounds) {
  expect_conv_passed_as_f32_rounded({2, 4, 10, 10}, GetParam(), 1);
}

// 3 images of 16 × 200 × 200 in pieces of one, convolved 16 to 16 channels by Winograd at bf16
// on AVX-512, by im2col elsewhere.
TEST(Bf16Layers, AConvolutionInPiecesGivesWhatOnePassGives) {
  expect_conv_passed_as_f32_rounded({3, 16, 200, 200}, Device::cpu(), 3);
}

// Linear and BatchNorm2d (Layer::Bf16::rounded) handed bf16 compute on it widened: output, input
// gradient and parameter gradients are the f32 layer's on the widened input, bit for bit; and
// they keep the tensor they were handed, allocating nothing for it (the output, and BatchNorm2d's
// batch mean and variance, are all a forward leaves).
TEST_P(Bf16LayersTest, ARoundedLayerComputesItsBf16InputInF32AndKeepsIt) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  PrecisionScope bf16(Precision::bf16);
  const std::vector<std::pair<Shape, LayerFactory>> layers = {
      {{64, 256}, [] { return std::make_unique<Linear>(256, 5); }},
      {{8, 4, 32, 32}, [] { return std::make_unique<BatchNorm2d>(4); }},
  };
  for (const auto& [shape, make] : layers) {
    const std::unique_ptr<Layer> rounded = make(), reference = make();
    SCOPED_TRACE(rounded->describe());
    EXPECT_EQ(rounded->bf16(), Layer::Bf16::rounded);
    test::randomize_parameters(*rounded, rng, 0.5);
    const auto params = rounded->parameters(), reference_params = reference->parameters();
    for (size_t k = 0; k < params.size(); ++k) reference_params[k].second->value = params[k].second->value.clone();
    rounded->to(device);
    reference->to(device);
    const Tensor x = random_bf16(shape, rng, device);
    Allocator& memory = allocator(device);
    const size_t before = memory.stats().in_use_bytes;
    const Tensor y = rounded->forward({x}, Mode::train);
    const size_t statistics = rounded->kind() == "batch_norm2d" ? 2 * size_t(shape[1]) * sizeof(float) : 0;
    // A copy of x would take x.nbytes() (32 or 64 KiB); a device's allocator rounds blocks to 512 B.
    EXPECT_LE(memory.stats().in_use_bytes - before, y.nbytes() + statistics + 1024) << "nothing kept beside x";
    const Tensor y_f32 = reference->forward({x.cast(DType::f32)}, Mode::train);
    ASSERT_EQ(y.dtype(), DType::f32);
    EXPECT_EQ(y.to_vector<float>(), y_f32.to_vector<float>());
    const Tensor dy = test::random_tensor(y.shape(), rng, device);
    const Tensor dx = rounded->backward(dy, {true}).at(0), dx_f32 = reference->backward(dy, {true}).at(0);
    EXPECT_EQ(dx.to_vector<float>(), dx_f32.to_vector<float>());
    for (size_t k = 0; k < params.size(); ++k)
      EXPECT_EQ(params[k].second->grad.to_vector<float>(), reference_params[k].second->grad.to_vector<float>())
          << params[k].first;
  }
}

// conv1 → relu1 → conv2 → relu2 → add(relu2, relu1) → gap → fc: relu1's output has two readers,
// so its gradient is a sum.
Model small_network() {
  Model model("net", {3, 12, 12});
  model.add("conv1", std::make_unique<Conv2d>(3, 8, 3, 1, 1));
  model.add("relu1", std::make_unique<ReLU>());
  model.add("conv2", std::make_unique<Conv2d>(8, 8, 3, 1, 1));
  model.add("relu2", std::make_unique<ReLU>());
  model.add("add", std::make_unique<Add>(), {"relu2", "relu1"});
  model.add("gap", std::make_unique<GlobalAvgPool>());
  model.add("fc", std::make_unique<Linear>(8, 5));
  model.initialize(3);
  return model;
}

// What a model's forward and backward give, with each layer's output dtype.
struct ModelPass {
  Tensor y, dx;
  std::map<std::string, Tensor> grads;
  std::map<std::string, DType> dtypes;
};

ModelPass run_model(Model& model, const Tensor& x, const Tensor& dy) {
  ModelPass pass;
  model.zero_grad();
  pass.y = model.forward(x, {}, Mode::train, "",
                         [&](const std::string& layer, const Tensor& output) { pass.dtypes[layer] = output.dtype(); });
  pass.dx = model.backward(dy, true);
  for (auto& [name, p] : model.parameters()) pass.grads[name] = p->grad.clone();
  return pass;
}

// The same network's layers called one by one, every tensor between them f32 (as i2v passed
// them at bf16 before they went in bf16).
ModelPass run_layers_in_f32(Model& model, const Tensor& x, const Tensor& dy) {
  auto layer = [&](const char* name) -> Layer& { return model.layer(name); };
  model.zero_grad();
  ModelPass pass;
  const Tensor c1 = layer("conv1").forward({x}, Mode::train), r1 = layer("relu1").forward({c1}, Mode::train);
  const Tensor c2 = layer("conv2").forward({r1}, Mode::train), r2 = layer("relu2").forward({c2}, Mode::train);
  const Tensor sum = layer("add").forward({r2, r1}, Mode::train), g = layer("gap").forward({sum}, Mode::train);
  pass.y = layer("fc").forward({g}, Mode::train);
  const Tensor d_gap = layer("fc").backward(dy, {true})[0], d_sum = layer("gap").backward(d_gap, {true})[0];
  const std::vector<Tensor> d_add = layer("add").backward(d_sum, {true, true});
  const Tensor d_c2 = layer("relu2").backward(d_add[0], {true})[0];
  const Tensor d_r1 = Add().forward({layer("conv2").backward(d_c2, {true})[0], d_add[1]}, Mode::eval);
  pass.dx = layer("conv1").backward(layer("relu1").backward(d_r1, {true})[0], {true})[0];
  for (auto& [name, p] : model.parameters()) pass.grads[name] = p->grad.clone();
  return pass;
}

void expect_close(const ModelPass& pass, const ModelPass& reference, double bound) {
  test::expect_normwise_close("output", pass.y, reference.y, bound);
  test::expect_normwise_close("input gradient", pass.dx, reference.dx, bound);
  for (const auto& [name, grad] : reference.grads) test::expect_normwise_close(name, pass.grads.at(name), grad, bound);
}

class Bf16ModelTest : public testing::TestWithParam<Device> {};

// At fp32 every tensor is f32 and the model agrees with float64 to 1e-4. At bf16 the outputs of
// the convolutions, the linear layer and the ReLUs are bf16; the Add, reading two, and the global
// pooling get f32 and give f32; the model hands out f32. Against the same layers passing f32 at
// bf16 the results move by one rounding to bf16 (2.1e-3 to 2.6e-3 normwise measured over 12
// seeds): within 1e-2. (Against float64 both are 1e-2 to 8e-2 off on the input gradient, from
// the products' bf16 operands in the sums of 72 products that cancel: the same for both.)
TEST_P(Bf16ModelTest, ActivationsPassInBf16) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  const Tensor x = test::random_tensor({4, 3, 12, 12}, rng, device), dy = test::random_tensor({4, 5}, rng, device);
  Model model = small_network();
  model.to(device);
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    SCOPED_TRACE(precision_name(precision));
    PrecisionScope scope(precision);
    const ModelPass pass = run_model(model, x, dy);
    const DType between = precision == Precision::bf16 ? DType::bf16 : DType::f32;
    const std::map<std::string, DType> expected = {
        {"conv1", between}, {"relu1", between}, {"conv2", between}, {"relu2", between},
        {"add", DType::f32},  {"gap", DType::f32},  {"fc", between}};
    EXPECT_EQ(pass.dtypes, expected);
    EXPECT_EQ(pass.y.dtype(), DType::f32) << "a model hands out f32";
    EXPECT_EQ(pass.dx.dtype(), DType::f32) << "the model's input's gradient has its dtype";
    if (precision == Precision::bf16) {
      expect_close(pass, run_layers_in_f32(model, x, dy), 1e-2);
    } else {
      Model reference = small_network();
      reference.to(Device::cpu(), DType::f64);
      expect_close(pass, run_model(reference, x.to(Device::cpu()).cast(DType::f64), dy.to(Device::cpu()).cast(DType::f64)),
                   1e-4);
    }
  }
}

// What a train-mode forward leaves for the backward pass, A bytes an f32 activation: at fp32 three
// f32 activations (each ReLU keeps its output, which the next convolution keeps too; the first
// convolution keeps the model's input itself), at bf16 four bf16 ones (the first convolution's a
// copy), and at both the max pooling's argmax (a byte per output, A/16) and the output (f32, A/4).
TEST_P(Bf16ModelTest, AForwardKeepsBf16Activations) {
  auto rng = test::test_rng();
  const Device device = GetParam();
  Model model("chain", {16, 32, 32});
  for (const char* block : {"1", "2", "3"}) {
    model.add(std::string("conv") + block, std::make_unique<Conv2d>(16, 16, 3, 1, 1));
    model.add(std::string("relu") + block, std::make_unique<ReLU>());
  }
  model.add("pool", std::make_unique<MaxPool2d>(2));
  model.initialize(4);
  model.to(device);
  const Tensor x = test::random_tensor({8, 16, 32, 32}, rng, device), dy = test::random_tensor({8, 16, 16, 16}, rng, device);
  const size_t activation = x.nbytes();
  Allocator& memory = allocator(device);
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    SCOPED_TRACE(precision_name(precision));
    PrecisionScope scope(precision);
    const size_t before = memory.stats().in_use_bytes;
    const Tensor y = model.forward(x, Mode::train);
    const size_t expected =
        (precision == Precision::fp32 ? 3 * activation : 4 * activation / 2) + activation / 16 + activation / 4;
    const size_t held = memory.stats().in_use_bytes - before;
    EXPECT_GE(held, expected);
    EXPECT_LT(held, expected + 64 * 1024) << "only activations";
    const Tensor dx = model.backward(dy, true);
    EXPECT_EQ(dx.dtype(), DType::f32);
    EXPECT_LT(memory.stats().in_use_bytes - before, activation + activation / 4 + 64 * 1024) << "y and dx";
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Bf16ModelTest, testing::ValuesIn(test::all_devices()), test::device_name);

}  // namespace
}  // namespace i2v
