// Flatten, Concat and Add: shapes, values, gradients checked in double on the cpu, and the same
// on every device. All three only copy or add once, so cpu and device agree exactly ({0, 0}).
#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/layers/add.h"
#include "nn/layers/concat.h"
#include "nn/layers/flatten.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

const test::Tolerances kExact = {{"output", {0, 0}},      {"grad_input0", {0, 0}}, {"grad_input1", {0, 0}},
                                 {"grad_input2", {0, 0}}, {"grad_input3", {0, 0}}};

TEST(FlattenLayer, KeepsTheBatchAndJoinsTheRest) {
  Flatten layer;
  EXPECT_EQ(layer.output_shape({{8, 512, 7, 7}}), (Shape{8, 25088}));
  EXPECT_EQ(layer.output_shape({{3, 5}}), (Shape{3, 5}));
  EXPECT_THROW(layer.output_shape({{4}}), Error);
  auto rng = test::test_rng();
  const Tensor x = test::random_tensor({2, 3, 4, 5}, rng);
  const Tensor y = layer.forward({x}, Mode::train);
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(layer.backward(y, {true})[0].shape(), x.shape());
}

TEST(ConcatLayer, JoinsAlongChannelsInInputOrder) {
  Concat layer;
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}), b = Tensor::from_vector<float>({5, 6}, {2, 1});
  EXPECT_EQ(layer.forward({a, b}, Mode::eval).to_vector<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(layer.output_shape({{1, 3, 4, 5}, {1, 2, 4, 5}, {1, 1, 4, 5}}), (Shape{1, 6, 4, 5}));
  EXPECT_THROW(layer.output_shape({{1, 3, 4, 5}, {1, 2, 4, 6}}), Error);
  EXPECT_THROW(layer.output_shape({}), Error);
}

TEST(AddLayer, RejectsDifferentShapes) {
  Add layer;
  EXPECT_THROW(layer.output_shape({{2, 3}, {3, 2}}), Error);
  EXPECT_THROW(layer.output_shape({{2, 3}}), Error);
}

TEST(AddLayer, ReturnsGradientsThatShareNoMemory) {
  auto rng = test::test_rng();
  Add layer;
  layer.forward({test::random_tensor({2, 3}, rng), test::random_tensor({2, 3}, rng)}, Mode::train);
  const std::vector<Tensor> grads = layer.backward(test::random_tensor({2, 3}, rng), {true, true});
  EXPECT_FALSE(grads[0].shares_storage(grads[1]));
  EXPECT_EQ(grads[0].to_vector<float>(), grads[1].to_vector<float>());
}

TEST(ShapeLayers, GradientsMatchCentralDifferences) {
  auto rng = test::test_rng();
  Flatten flatten;
  test::check_gradients(flatten, {test::random_tensor({1, 3, 5, 2}, rng)}, rng);
  Concat concat;
  test::check_gradients(concat,
                        {test::random_tensor({2, 3, 3, 5}, rng), test::random_tensor({2, 1, 3, 5}, rng),
                         test::random_tensor({2, 4, 3, 5}, rng)},
                        rng);
  Add add;
  test::check_gradients(add, {test::random_tensor({1, 4, 3, 5}, rng), test::random_tensor({1, 4, 3, 5}, rng)}, rng);
}

class ShapeLayersOnDevices : public testing::TestWithParam<Device> {};

TEST_P(ShapeLayersOnDevices, AgreeWithCpu) {
  auto rng = test::test_rng();
  test::check_devices_agree([] { return std::make_unique<Flatten>(); }, {test::random_tensor({2, 3, 5, 7}, rng)},
                            GetParam(), rng, kExact);
  test::check_devices_agree([] { return std::make_unique<Concat>(); },
                            {test::random_tensor({1, 2, 5, 7}, rng), test::random_tensor({1, 3, 5, 7}, rng),
                             test::random_tensor({1, 1, 5, 7}, rng), test::random_tensor({1, 2, 5, 7}, rng)},
                            GetParam(), rng, kExact);
  test::check_devices_agree([] { return std::make_unique<Concat>(); },
                            {test::random_tensor({3, 4}, rng), test::random_tensor({3, 9}, rng)}, GetParam(), rng,
                            kExact);
  test::check_devices_agree([] { return std::make_unique<Add>(); },
                            {test::random_tensor({2, 3, 5, 7}, rng), test::random_tensor({2, 3, 5, 7}, rng)},
                            GetParam(), rng, kExact);
}

INSTANTIATE_TEST_SUITE_P(Devices, ShapeLayersOnDevices, testing::ValuesIn(test::gpu_devices()), test::device_name);

}  // namespace
}  // namespace i2v
