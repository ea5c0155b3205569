// Tensors behave the same on every device: shapes, views, copies between devices and layouts.
#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

using test::test_rng;

class TensorTest : public testing::TestWithParam<Device> {};

// The values 0, 1, 2, ... as an f32 tensor of `shape` on `device`.
Tensor iota(const Shape& shape, Device device) {
  std::vector<float> v(size_t(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  return Tensor::from_vector(v, shape, device);
}

TEST_P(TensorTest, ShapeStridesAndRoundTrip) {
  const Device device = GetParam();
  auto rng = test_rng();
  Tensor t = test::random_tensor({2, 3, 5, 7}, rng, Device::cpu());
  Tensor d = t.to(device);
  EXPECT_EQ(d.device(), device);
  EXPECT_EQ(d.shape(), (Shape{2, 3, 5, 7}));
  EXPECT_EQ(d.strides(), (Shape{105, 35, 7, 1}));
  EXPECT_EQ(d.numel(), 210);
  EXPECT_EQ(d.nbytes(), 840u);
  EXPECT_TRUE(d.is_contiguous());
  EXPECT_EQ(d.to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(d.size(-1), 7);
}

TEST_P(TensorTest, FillEveryDtype) {
  const Device device = GetParam();
  EXPECT_EQ(Tensor::full({3}, 2.5, DType::f32, device).to_vector<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f}));
  EXPECT_EQ(Tensor::full({2}, -1.25, DType::f64, device).to_vector<double>(), (std::vector<double>{-1.25, -1.25}));
  EXPECT_EQ(Tensor::full({2}, -9, DType::i32, device).to_vector<int32_t>(), (std::vector<int32_t>{-9, -9}));
  EXPECT_EQ(Tensor::full({2}, 1e12, DType::i64, device).to_vector<int64_t>(),
            (std::vector<int64_t>{1000000000000, 1000000000000}));
  EXPECT_EQ(Tensor::full({3}, 200, DType::u8, device).to_vector<uint8_t>(), (std::vector<uint8_t>{200, 200, 200}));
  EXPECT_EQ(Tensor::zeros({2}, DType::u64, device).to_vector<uint64_t>(), (std::vector<uint64_t>{0, 0}));
}

TEST_P(TensorTest, ViewsShareStorage) {
  const Device device = GetParam();
  Tensor t = iota({4, 6}, device);
  Tensor row = t.select(0, 2);
  EXPECT_EQ(row.shape(), (Shape{6}));
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{12, 13, 14, 15, 16, 17}));
  EXPECT_TRUE(row.shares_storage(t));
  Tensor column = t.select(1, 4);
  EXPECT_FALSE(column.is_contiguous());
  EXPECT_EQ(column.to_vector<float>(), (std::vector<float>{4, 10, 16, 22}));
  Tensor every_other = t.slice(1, 1, 6, 2);
  EXPECT_EQ(every_other.shape(), (Shape{4, 3}));
  EXPECT_EQ(every_other.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
  row.fill_(-1);
  EXPECT_EQ(t.item<float>({2, 3}), -1.0f);
  EXPECT_EQ(t.item<float>({1, 3}), 9.0f);
  column.fill_(5);
  EXPECT_EQ(t.item<float>({0, 4}), 5.0f);
  EXPECT_EQ(t.item<float>({2, 4}), 5.0f);
  EXPECT_EQ(t.item<float>({3, 5}), 23.0f);
}

TEST_P(TensorTest, PermuteAndContiguousMatchTheHostReference) {
  const Device device = GetParam();
  auto rng = test_rng();
  const Shape shape{2, 3, 4, 5};
  Tensor host = test::random_tensor(shape, rng);
  Tensor t = host.to(device).permute({0, 2, 3, 1});  // NCHW -> NHWC
  EXPECT_EQ(t.shape(), (Shape{2, 4, 5, 3}));
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage(t));
  const std::vector<float> src = host.to_vector<float>(), got = c.to_vector<float>();
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 5; ++w)
        for (int ch = 0; ch < 3; ++ch)
          ASSERT_EQ(got[size_t(((n * 4 + h) * 5 + w) * 3 + ch)], src[size_t(((n * 3 + ch) * 4 + h) * 5 + w)]);
  EXPECT_EQ(t.transpose(1, 3).shape(), (Shape{2, 3, 5, 4}));
}

TEST_P(TensorTest, CopiesBetweenDevicesAndLayouts) {
  const Device device = GetParam();
  auto rng = test_rng();
  for (Device other : test::all_devices()) {
    Tensor src = test::random_tensor({6, 5}, rng, other);
    // Into a strided destination (a transposed view) on `device`.
    Tensor dst_storage = Tensor::full({5, 6}, NAN, DType::f32, device);
    Tensor dst = dst_storage.transpose(0, 1);
    dst.copy_from(src);
    EXPECT_EQ(dst.to_vector<float>(), src.to_vector<float>()) << other.name() << " -> " << device.name();
    // From a strided source into a contiguous destination.
    Tensor back = Tensor::full({5, 6}, NAN, DType::f32, other);
    back.copy_from(dst_storage.transpose(0, 1).transpose(0, 1));
    EXPECT_EQ(back.to_vector<float>(), dst_storage.to_vector<float>());
  }
}

TEST_P(TensorTest, ViewReshapeSqueeze) {
  const Device device = GetParam();
  Tensor t = iota({2, 3, 4}, device);
  EXPECT_EQ(t.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(t.unsqueeze(3).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(t.unsqueeze(1).squeeze(1).shape(), (Shape{2, 3, 4}));
  Tensor transposed = t.transpose(0, 2);
  EXPECT_THROW(transposed.view({24}), Error);
  EXPECT_EQ(transposed.reshape({24}).item<float>({1}), 12.0f);
}

TEST_P(TensorTest, MisuseIsAClearError) {
  const Device device = GetParam();
  Tensor t = Tensor::zeros({2, 3}, DType::f32, device);
  try {
    t.view({4, 2});
    FAIL() << "view with the wrong element count must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view [4, 2] has 8 elements"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.data<int32_t>(), Error);
  EXPECT_THROW(t.slice(1, 2, 5), Error);
  EXPECT_THROW(t.select(0, 2), Error);
  EXPECT_THROW(t.permute({0, 0}), Error);
  EXPECT_THROW(t.copy_from(Tensor::zeros({3, 2}, DType::f32, device)), Error);
  EXPECT_THROW(Tensor::empty({-1}), Error);
  EXPECT_THROW(Tensor().device(), Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, TensorTest, testing::ValuesIn(test::all_devices()), test::device_name);

TEST(Device, ParseAndDescribe) {
  EXPECT_EQ(Device::parse("sim"), Device::sim());
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_NE(describe_devices().find("sim"), std::string::npos);
}

}  // namespace
}  // namespace i2v
