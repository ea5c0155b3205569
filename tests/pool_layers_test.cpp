// MaxPool2d, AvgPool2d and GlobalAvgPool: PyTorch's output sizes and values, gradients checked in
// double on the cpu, and the same results on every device; what max pooling keeps.
//
// Tolerances (cpu vs device, float): max pooling compares and copies, average pooling adds a
// window in the same order on both devices (the I2V_HD bodies are shared) and divides: all exact
// ({0, 0}). GlobalAvgPool sums a plane in double on the cpu and by a tree in float on the GPU:
// the default 1e-5 relative, 1e-6 absolute.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "base/error.h"
#include "kernels/allocator.h"
#include "nn/layers/avg_pool2d.h"
#include "nn/layers/global_avg_pool.h"
#include "nn/layers/global_max_pool.h"
#include "nn/layers/max_pool2d.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kExact = {{"output", {0, 0}}, {"grad_input0", {0, 0}}};

struct PoolCase {
  Shape input;
  Pool2dOptions options;
};

// Batch 1, odd and non-square inputs, stride > 1 and < kernel (overlapping windows), padding,
// ceil_mode (with a last window running into the right padding), and the brief's 2×2 s2,
// 8×8 s8 p1 and 4×4 s4 p1; windows of 256 and 289 elements (the argmax's two widths).
const std::vector<PoolCase> kCases = {
    {{1, 2, 6, 8}, Pool2dOptions::square(2)},
    {{2, 3, 7, 5}, Pool2dOptions::square(2, 2, 0, true)},
    {{1, 2, 9, 7}, Pool2dOptions::square(3, 2, 1)},
    {{2, 1, 8, 9}, Pool2dOptions::square(3, 2, 1, true)},
    {{1, 1, 18, 17}, Pool2dOptions::square(8, 8, 1)},
    {{1, 2, 17, 18}, Pool2dOptions::square(8, 8, 1, true)},
    {{2, 2, 9, 10}, Pool2dOptions::square(4, 4, 1, true)},
    {{1, 3, 6, 7}, {3, 2, 2, 1, 1, 0, false}},  // rectangular kernel, stride and padding
    {{1, 1, 5, 5}, Pool2dOptions::square(2, 1)},
    {{1, 1, 33, 32}, Pool2dOptions::square(16, 16, 1)},  // 256-element windows: the argmax in a byte
    {{1, 2, 34, 35}, Pool2dOptions::square(17, 17)},     // 289: in four
};

// `count` pooling configurations drawn at random (replayable from the run's seed): any kernel up
// to 5, stride up to 4, padding up to half the kernel, ceil_mode or not, on inputs of 1 to 12.
std::vector<PoolCase> random_cases(std::mt19937_64& rng, int count) {
  std::vector<PoolCase> cases;
  auto draw = [&rng](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  while (int(cases.size()) < count) {
    Pool2dOptions o;
    o.kernel_h = draw(1, 5), o.kernel_w = draw(1, 5);
    o.stride_h = draw(1, 4), o.stride_w = draw(1, 4);
    o.pad_h = draw(0, o.kernel_h / 2), o.pad_w = draw(0, o.kernel_w / 2);
    o.ceil_mode = draw(0, 1) == 1;
    const Shape input = {draw(1, 2), draw(1, 3), draw(1, 12), draw(1, 12)};
    try {
      pool_output_size(input[2], o.kernel_h, o.stride_h, o.pad_h, o.ceil_mode);
      pool_output_size(input[3], o.kernel_w, o.stride_w, o.pad_w, o.ceil_mode);
    } catch (const Error&) {
      continue;  // no output: PyTorch refuses it too
    }
    cases.push_back({input, o});
  }
  return cases;
}

TEST(PoolOutputSize, MatchesPyTorch) {
  struct Row {
    int64_t in, kernel, stride, pad;
    bool ceil;
    int64_t out;  // torch.nn.functional.max_pool2d(...).shape[-1], PyTorch 1.13
  };
  const Row rows[] = {{5, 2, 2, 0, false, 2},  {5, 2, 2, 0, true, 3},    {16, 2, 2, 0, true, 8},
                      {224, 2, 2, 0, false, 112}, {5, 8, 8, 1, true, 1}, {8, 8, 8, 1, false, 1},
                      {8, 8, 8, 1, true, 2},   {224, 8, 8, 1, false, 28}, {224, 8, 8, 1, true, 29},
                      {5, 4, 4, 1, true, 2},   {7, 4, 4, 1, true, 2},    {9, 4, 4, 1, true, 3},
                      {224, 4, 4, 1, true, 57}, {5, 3, 2, 1, true, 3},   {16, 3, 2, 1, true, 9},
                      {224, 3, 2, 1, true, 113}, {13, 3, 3, 0, true, 5}, {17, 5, 3, 2, true, 7},
                      {9, 5, 3, 2, true, 4}};
  for (const Row& r : rows)
    EXPECT_EQ(pool_output_size(r.in, r.kernel, r.stride, r.pad, r.ceil), r.out)
        << "in " << r.in << " k" << r.kernel << " s" << r.stride << " p" << r.pad << (r.ceil ? " ceil" : "");
  EXPECT_THROW(pool_output_size(5, 8, 8, 1, false), Error);  // PyTorch: output size is too small
  EXPECT_THROW(pool_output_size(9, 4, 4, 3, false), Error);  // padding over half the kernel
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

Tensor arange(const Shape& shape) {
  std::vector<double> v(size_t(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i + 1);
  return Tensor::from_vector(v, shape);
}

TEST(AvgPool2dLayer, MatchesPyTorchsDivisorsWithPaddingAndCeilMode) {
  // torch.nn.functional.avg_pool2d(arange(1, 36).reshape(1, 1, 5, 7), 3, 2, 1, ceil_mode=True)
  AvgPool2d include(3, 2, 1, true), exclude(3, 2, 1, true, false);
  const std::vector<double> with_pad = {2.2222222222222223, 4.333333333333333,  5.666666666666667,
                                        4.444444444444445,  10.333333333333334, 17.0,
                                        19.0,               13.666666666666666, 11.555555555555555,
                                        18.333333333333332, 19.666666666666668, 13.777777777777779};
  const std::vector<double> without_pad = {5.0, 6.5, 8.5, 10.0, 15.5, 17.0, 19.0, 20.5, 26.0, 27.5, 29.5, 31.0};
  const Tensor x = arange({1, 1, 5, 7}).cast(DType::f64);
  for (size_t i = 0; i < with_pad.size(); ++i) {
    EXPECT_DOUBLE_EQ(values(include.forward({x}, Mode::eval))[i], with_pad[i]) << i;
    EXPECT_DOUBLE_EQ(values(exclude.forward({x}, Mode::eval))[i], without_pad[i]) << i;
  }
  // 4×4 stride 4 padding 1, ceil_mode: the last row of windows runs past the padding.
  AvgPool2d four(4, 4, 1, true);
  const std::vector<double> expected = {6.75, 11.625, 10.6875, 35.25, 50.5, 40.5, 38.5, 53.666666666666664, 42.0};
  const std::vector<double> got = values(four.forward({arange({1, 1, 9, 10}).cast(DType::f64)}, Mode::eval));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], expected[i]) << i;
}

TEST(MaxPool2dLayer, RoutesTiesToTheFirstIndexAsPyTorch) {
  MaxPool2d layer(2);
  const Tensor x = Tensor::from_vector<float>({1, 5, 5, 2, /**/ 0, 5, 3, 3}, {1, 1, 2, 4});
  EXPECT_EQ(layer.forward({x}, Mode::train).to_vector<float>(), (std::vector<float>{5, 5}));
  const Tensor dx = layer.backward(Tensor::from_vector<float>({1, 2}, {1, 1, 1, 2}), {true})[0];
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0, 1, 2, 0, /**/ 0, 0, 0, 0}));
}

TEST(MaxPool2dLayer, SumsGradientsWhereWindowsOverlap) {
  MaxPool2d layer(3, 1);  // 3×3 windows, stride 1: input (1, 1) of a 4×4 plane lies in all four
  std::vector<float> v(16, 0.0f);
  v[5] = 9.0f;
  layer.forward({Tensor::from_vector(v, {1, 1, 4, 4})}, Mode::train);
  std::vector<float> expected(16, 0.0f);
  expected[5] = 1 + 2 + 3 + 4;
  EXPECT_EQ(layer.backward(Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2}), {true})[0].to_vector<float>(),
            expected);
}

TEST(PoolLayers, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  for (const PoolCase& c : kCases) {
    SCOPED_TRACE(shape_str(c.input) + " " + pool2d_options_str(c.options));
    MaxPool2d max_pool(c.options);
    test::check_gradients(max_pool, {test::random_tensor(c.input, rng)}, rng);
    AvgPool2d avg_pool(c.options), avg_pool_exclude(c.options, false);
    test::check_gradients(avg_pool, {test::random_tensor(c.input, rng)}, rng);
    test::check_gradients(avg_pool_exclude, {test::random_tensor(c.input, rng)}, rng);
  }
  for (const PoolCase& c : random_cases(rng, 8)) {
    SCOPED_TRACE(shape_str(c.input) + " " + pool2d_options_str(c.options));
    MaxPool2d max_pool(c.options);
    test::check_gradients(max_pool, {test::random_tensor(c.input, rng)}, rng);
    AvgPool2d avg_pool(c.options);
    test::check_gradients(avg_pool, {test::random_tensor(c.input, rng)}, rng);
  }
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {2, 4, 1, 1}, {2, 2, 6, 6}}) {
    GlobalAvgPool layer;
    test::check_gradients(layer, {test::random_tensor(shape, rng)}, rng);
  }
}

TEST(PoolLayers, DescribeTheirWindows) {
  EXPECT_EQ(MaxPool2d(2).describe(), "max_pool2d k2 s2");
  EXPECT_EQ(AvgPool2d(8, 8, 1).describe(), "avg_pool2d k8 s8 p1");
  EXPECT_EQ(MaxPool2d({3, 2, 2, 1, 1, 0, true}).describe(), "max_pool2d k3x2 s2x1 p1x0 ceil");
  EXPECT_EQ(MaxPool2d(2).output_shape({{8, 64, 224, 224}}), (Shape{8, 64, 112, 112}));
  EXPECT_EQ(MaxPool2d(2).forward_flops({{1, 1, 4, 4}}), 16);
  EXPECT_EQ(GlobalAvgPool().output_shape({{8, 1539, 7, 7}}), (Shape{8, 1539}));
}

TEST(PoolLayers, RejectInputsThatAreNotNchw) {
  MaxPool2d max_pool(2);
  EXPECT_THROW(max_pool.forward({Tensor::zeros({2, 3, 4})}, Mode::eval), Error);
  EXPECT_THROW(max_pool.forward({Tensor::zeros({1, 1, 1, 1})}, Mode::eval), Error);  // no output
  EXPECT_THROW(max_pool.backward(Tensor::zeros({1, 1, 1, 1}), {true}), Error);
  GlobalAvgPool global;
  EXPECT_THROW(global.forward({Tensor::zeros({2, 3})}, Mode::eval), Error);
}

class PoolOnDevices : public testing::TestWithParam<Device> {};

TEST_P(PoolOnDevices, MaxAndAvgAgreeWithCpu) {
  auto rng = test::test_rng();
  for (const PoolCase& c : kCases) {
    SCOPED_TRACE(shape_str(c.input) + " " + pool2d_options_str(c.options));
    const Tensor x = test::random_tensor(c.input, rng);
    test::check_devices_agree([&] { return std::make_unique<MaxPool2d>(c.options); }, {x}, GetParam(), rng, kExact);
    test::check_devices_agree([&] { return std::make_unique<AvgPool2d>(c.options); }, {x}, GetParam(), rng, kExact);
    test::check_devices_agree([&] { return std::make_unique<AvgPool2d>(c.options, false); }, {x}, GetParam(), rng,
                              kExact);
  }
}

TEST_P(PoolOnDevices, RandomWindowsAgreeWithCpu) {
  auto rng = test::test_rng();
  for (const PoolCase& c : random_cases(rng, 12)) {
    SCOPED_TRACE(shape_str(c.input) + " " + pool2d_options_str(c.options));
    const Tensor x = test::random_tensor(c.input, rng);
    test::check_devices_agree([&] { return std::make_unique<MaxPool2d>(c.options); }, {x}, GetParam(), rng, kExact);
    test::check_devices_agree([&] { return std::make_unique<AvgPool2d>(c.options); }, {x}, GetParam(), rng, kExact);
  }
}

TEST_P(PoolOnDevices, GlobalAvgAgreesWithCpu) {
  auto rng = test::test_rng();
  // [1, 2, 90, 100]: 9,000 values a plane, split over several blocks and summed in a second pass.
  for (const Shape& shape : std::vector<Shape>{{1, 3, 5, 7}, {3, 4, 1, 1}, {1, 2, 90, 100}})
    test::check_devices_agree([] { return std::make_unique<GlobalAvgPool>(); }, {test::random_tensor(shape, rng)},
                              GetParam(), rng);
}

INSTANTIATE_TEST_SUITE_P(Devices, PoolOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

// A train-mode max pooling keeps, beside its output's signature, one argmax byte per output where
// a window holds at most 256 elements (kernels/pool.h's PoolArgmax), four bytes past that; a
// global max pooling over a 16×16 plane or one of 17×17 the same.
TEST(PoolLayers, MaxPoolingKeepsAByteAnOutputForWindowsUpTo256) {
  auto rng = test::test_rng();
  Allocator& memory = allocator(Device::cpu());
  auto kept_bytes = [&](Layer& layer, const Shape& shape) {
    const Tensor x = test::random_tensor(shape, rng);
    const size_t before = memory.stats().in_use_bytes;
    const Tensor y = layer.forward({x}, Mode::train);
    return memory.stats().in_use_bytes - before - y.nbytes();
  };
  MaxPool2d pool2(2), pool16(16), pool17(17);
  EXPECT_EQ(kept_bytes(pool2, {8, 16, 64, 64}), size_t(8 * 16 * 32 * 32));
  EXPECT_EQ(kept_bytes(pool16, {4, 16, 64, 64}), size_t(4 * 16 * 4 * 4));
  EXPECT_EQ(kept_bytes(pool17, {4, 16, 68, 68}), size_t(4 * 16 * 4 * 4 * 4));
  GlobalMaxPool global16, global17;
  EXPECT_EQ(kept_bytes(global16, {4, 16, 16, 16}), size_t(4 * 16));
  EXPECT_EQ(kept_bytes(global17, {4, 16, 17, 17}), size_t(4 * 16 * 4));
}

// The 2×2 stride-2 fast path keeps window_max's rules: the first index wins a tie, a NaN wins
// over numbers (the last NaN of a window), -inf is a value like any other.
TEST(PoolLayers, MaxPool2x2TiesAndNaNs) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 1, nan, 2, -inf, 3, -inf, -inf,  //
                                                          -inf, 1, 3, nan, -inf, 3, -inf, -inf},
                                       {1, 1, 2, 8});
  MaxPool2d pool(2);
  const std::vector<float> y = pool.forward({x}, Mode::train).to_vector<float>();
  ASSERT_EQ(y.size(), 4u);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(y[2], 3.0f);
  EXPECT_EQ(y[3], -inf);
  const std::vector<float> dx =
      pool.backward(Tensor::from_vector(std::vector<float>{10, 20, 30, 40}, {1, 1, 1, 4}), {true})[0]
          .to_vector<float>();
  const std::vector<float> expected{10, 0, 0, 0, 0, 30, 40, 0,  //
                                    0, 0, 0, 20, 0, 0, 0, 0};
  EXPECT_EQ(dx, expected);
}

}  // namespace
}  // namespace i2v
