// The convolution's data movement (im2col, col2im, swap_outer_axes) and the bias kernels, on
// every device, against direct loops written from the definitions in kernels/im2col.h and
// kernels/bias.h. These move values without arithmetic (col2im and the bias gradient add), so
// most comparisons are exact.
#include <array>
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/bias.h"
#include "kernels/im2col.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

// Geometries with odd and non-square sizes, strides 1..3, padding 0..2, kernels 1×1 to 4×4 and
// non-square ones, and windows that hang over every edge; the last is large enough for the CPU
// kernels to split across threads.
const std::vector<ConvGeometry> kGeometries = {
    {1, 1, 1, 1, 1, 1, 1, 0, 0},  {2, 5, 7, 3, 3, 1, 1, 1, 1}, {3, 6, 5, 2, 2, 2, 2, 0, 0},
    {2, 9, 8, 4, 4, 2, 2, 1, 1},  {1, 7, 7, 3, 3, 3, 3, 2, 2}, {3, 5, 6, 1, 3, 2, 1, 0, 1},
    {4, 4, 4, 1, 1, 1, 1, 0, 0},  {2, 6, 9, 3, 2, 1, 3, 2, 0}, {8, 33, 31, 3, 3, 1, 1, 1, 1},
};

std::string geometry_name(const ConvGeometry& g) {
  return "c" + std::to_string(g.channels) + " " + std::to_string(g.height) + "x" + std::to_string(g.width) + " k" +
         std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + " s" + std::to_string(g.stride_h) + "x" +
         std::to_string(g.stride_w) + " p" + std::to_string(g.pad_h) + "x" + std::to_string(g.pad_w);
}

// Calls visit(col_index, image_index) for every entry of the col matrix of `count` images, as
// defined in kernels/im2col.h; image_index is -1 for an entry in the padding.
template <typename Visit>
void for_each_col_entry(int64_t count, const ConvGeometry& g, Visit visit) {
  const int64_t out_h = g.out_height(), out_w = g.out_width(), pixels = out_h * out_w, ld = count * pixels;
  for (int64_t n = 0; n < count; ++n)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t ki = 0; ki < g.kernel_h; ++ki)
        for (int64_t kj = 0; kj < g.kernel_w; ++kj)
          for (int64_t oh = 0; oh < out_h; ++oh)
            for (int64_t ow = 0; ow < out_w; ++ow) {
              const int64_t ih = oh * g.stride_h - g.pad_h + ki, iw = ow * g.stride_w - g.pad_w + kj;
              const bool inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
              const int64_t row = (c * g.kernel_h + ki) * g.kernel_w + kj;
              visit(row * ld + n * pixels + oh * out_w + ow,
                    inside ? ((n * g.channels + c) * g.height + ih) * g.width + iw : -1);
            }
}

std::vector<float> reference_im2col(const std::vector<float>& images, int64_t count, const ConvGeometry& g) {
  std::vector<float> col(size_t(g.col_rows() * count * g.out_pixels()));
  for_each_col_entry(count, g, [&](int64_t col_index, int64_t image_index) {
    col[size_t(col_index)] = image_index >= 0 ? images[size_t(image_index)] : 0.0f;
  });
  return col;
}

// The adjoint of reference_im2col: every col entry added back to the pixel it copied.
std::vector<double> reference_col2im(const std::vector<float>& col, int64_t count, const ConvGeometry& g) {
  std::vector<double> images(size_t(count * g.image_size()), 0.0);
  for_each_col_entry(count, g, [&](int64_t col_index, int64_t image_index) {
    if (image_index >= 0) images[size_t(image_index)] += col[size_t(col_index)];
  });
  return images;
}

class Im2colOnDevices : public testing::TestWithParam<Device> {};

// The walks of kernels/im2col.h, stepped with next() across channels, kernel rows, output rows and
// images, give the term of every col entry: the element the definition names, or padding.
TEST(Im2colTerms, WalksNameEveryColEntry) {
  for (const ConvGeometry& g : kGeometries) {
    SCOPED_TRACE(geometry_name(g));
    const int64_t count = 3, columns = count * g.out_pixels();
    std::vector<int64_t> expected(size_t(g.col_rows() * columns));
    for_each_col_entry(count, g, [&](int64_t col_index, int64_t image_index) { expected[size_t(col_index)] = image_index; });
    ColRowWalk row(g, 0);
    for (int64_t r = 0; r < g.col_rows(); ++r, row.next()) {
      ColColumnWalk column(g, 0);
      for (int64_t p = 0; p < columns; ++p, column.next()) {
        const Im2colTerm& rt = row.term();
        const Im2colTerm& ct = column.term();
        const int64_t got = im2col_inside(g, rt, ct) ? rt.offset + ct.offset : -1;
        ASSERT_EQ(got, expected[size_t(r * columns + p)]) << "row " << r << " column " << p;
        // A walk started anywhere, or advanced there in one go, agrees with one stepped there.
        if (p % 7 == 3) {
          ColColumnWalk jumped(g, p % 5);
          jumped.advance(p - p % 5);
          for (const Im2colTerm& other : {ColColumnWalk(g, p).term(), jumped.term()}) {
            ASSERT_EQ(other.offset, ct.offset) << "column " << p;
            ASSERT_EQ(other.h, ct.h) << "column " << p;
            ASSERT_EQ(other.w, ct.w) << "column " << p;
          }
          ASSERT_EQ(ColRowWalk(g, r).term().offset, rt.offset) << "row " << r;
        }
      }
    }
  }
}

TEST_P(Im2colOnDevices, Im2colCopiesEveryWindow) {
  auto rng = test::test_rng();
  for (const ConvGeometry& g : kGeometries) {
    for (int64_t count : {1, 3}) {
      SCOPED_TRACE(geometry_name(g) + " images " + std::to_string(count));
      const Tensor images = test::random_tensor({count, g.image_size()}, rng);
      Tensor col = Tensor::empty({g.col_rows(), count * g.out_pixels()}, DType::f32, GetParam());
      I2V_DISPATCH(GetParam(), im2col, images.to(GetParam()).data<float>(), count, g, col.data<float>());
      EXPECT_EQ(col.to_vector<float>(), reference_im2col(images.to_vector<float>(), count, g));
    }
  }
}

TEST_P(Im2colOnDevices, Col2imAddsEveryWindowBack) {
  auto rng = test::test_rng();
  for (const ConvGeometry& g : kGeometries) {
    for (int64_t count : {1, 2}) {
      SCOPED_TRACE(geometry_name(g) + " images " + std::to_string(count));
      const Tensor col = test::random_tensor({g.col_rows(), count * g.out_pixels()}, rng);
      Tensor images = Tensor::empty({count, g.image_size()}, DType::f32, GetParam());
      I2V_DISPATCH(GetParam(), col2im, col.to(GetParam()).data<float>(), count, g, images.data<float>());
      const std::vector<double> expected = reference_col2im(col.to_vector<float>(), count, g);
      const std::vector<float> got = images.to_vector<float>();
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-5) << "pixel " << i;
    }
  }
}

TEST_P(Im2colOnDevices, SwapOuterAxesTransposesBlocks) {
  auto rng = test::test_rng();
  const int64_t rows = 3, cols = 5, inner = 7;
  const Tensor src = test::random_tensor({rows, cols, inner}, rng);
  Tensor dst = Tensor::empty({cols, rows, inner}, DType::f32, GetParam());
  I2V_DISPATCH(GetParam(), swap_outer_axes, src.to(GetParam()).data<float>(), rows, cols, inner, dst.data<float>());
  EXPECT_EQ(dst.to_vector<float>(), src.permute({1, 0, 2}).contiguous().to_vector<float>());
}

TEST_P(Im2colOnDevices, ChannelBiasAddsAndSums) {
  auto rng = test::test_rng();
  // Linear's shape (inner 1), short rows, and enough elements per channel for the GPU sums to
  // split a channel across blocks (kernels/reduce.cuh).
  for (const auto& [outer, channels, inner] :
       {std::array<int64_t, 3>{7, 4, 1}, std::array<int64_t, 3>{3, 5, 37}, std::array<int64_t, 3>{2, 3, 9000}}) {
    const Tensor y0 = test::random_tensor({outer, channels, inner}, rng);
    const Tensor bias = test::random_tensor({channels}, rng);
    const Tensor grad0 = test::random_tensor({channels}, rng);
    Tensor y = y0.to(GetParam()).clone(), grad = grad0.to(GetParam()).clone();
    I2V_DISPATCH(GetParam(), add_channel_bias, y.data<float>(), bias.to(GetParam()).data<float>(), outer, channels,
                 inner);
    I2V_DISPATCH(GetParam(), channel_bias_grad, y0.to(GetParam()).data<float>(), outer, channels, inner,
                 grad.data<float>());
    for (int64_t c = 0; c < channels; ++c) {
      double sum = grad0.item<float>({c}), magnitude = std::fabs(sum);
      for (int64_t i = 0; i < outer; ++i)
        for (int64_t p = 0; p < inner; ++p) {
          sum += y0.item<float>({i, c, p});
          magnitude += std::fabs(y0.item<float>({i, c, p}));
          ASSERT_EQ(y.item<float>({i, c, p}), y0.item<float>({i, c, p}) + bias.item<float>({c}));
        }
      // A float sum of 18000 terms, in tree order on the GPU: rounding of ~1e-7 of Σ|terms|.
      EXPECT_NEAR(grad.item<float>({c}), sum, 1e-6 * magnitude) << "channel " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Im2colOnDevices, testing::ValuesIn(test::all_devices()), test::device_name);

}  // namespace
}  // namespace i2v
