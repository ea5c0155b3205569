// The Winograd F(2×2, 3×3) convolutions at bf16 (kernels/conv_avx512.h): forward, input gradient
// and weight gradient, on each CPU path that takes them (vdpbf16ps; rounded operands on FMAs):
//   - against a reference of their documented arithmetic: the weight and input transforms in fp32
//     as the kernel orders them, rounded to bf16 (to_bf16), the 16 products summed in double, the
//     output transform in double. To fp32 summation error: the kernel does exactly that;
//   - against the direct convolution in double (the definition): within bf16's 1e-2, and not
//     equal (bf16 did round);
//   - the same bits on 1 thread as on 2 (whole blocks per thread, or each block's rows split);
//   - Conv2d at bf16 takes them for its forward and both gradients: output (plus the bias) and
//     gradients equal the kernels'.
// Shapes: odd depth (a zero pair half), output rows that leave a row panel part-filled, tile rows
// longer than 16 tiles (two runs), odd image sides (cropped tiles), 1×1 and 2×3 images, blocks
// shared by the threads and blocks split between them.
#include <omp.h>

#include <array>
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/bfloat16.h"
#include "kernels/conv_avx512.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "nn/layers/conv2d.h"
#include "tests/layer_check.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

struct Path {
  std::string name;
  cpu::CpuArithmetic arithmetic;
  bool needs_bf16;  // AVX-512 BF16
};

const Path kPaths[] = {{"vdpbf16ps", cpu::CpuArithmetic::bf16_pairs, true},
                       {"avx512_rounded", cpu::CpuArithmetic::bf16_rounded, false}};

class ConvWinograd : public testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    if (!cpu_has_avx512f()) GTEST_SKIP() << "this CPU has no AVX-512";
    if (GetParam().needs_bf16 && !cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
    precision_.emplace(Precision::bf16);
    kernel_.emplace(GetParam().arithmetic);
  }
  std::optional<PrecisionScope> precision_;
  std::optional<cpu::Bf16KernelScope> kernel_;
};

struct Case {
  int64_t batch, in, out, height, width;
};

const Case kCases[] = {
    {2, 33, 20, 9, 37},   // odd depth, 3 row panels, tile rows of 19 tiles, 190 tiles: 4 blocks
    {3, 16, 17, 7, 7},    // 48 tiles: one block, its rows split between the threads
    {2, 18, 24, 40, 40},  // 800 tiles: 17 blocks, whole blocks per thread
    {1, 20, 16, 1, 1},    // one tile, three quarters of it cropped
    {2, 17, 18, 2, 3},
};

std::string case_name(const Case& c) {
  return fmt::format("batch {} {}->{} {}x{}", c.batch, c.in, c.out, c.height, c.width);
}

ConvGeometry geometry(const Case& c) { return {c.in, c.height, c.width, 3, 3, 1, 1, 1, 1}; }

// A convolution's operands and what each pass gives.
struct Operands {
  std::vector<float> weight, x, dy;
};

Operands random_operands(const Case& c, std::mt19937_64& rng) {
  return {test::random_tensor({c.out, c.in, 3, 3}, rng).to_vector<float>(),
          test::random_tensor({c.batch, c.in, c.height, c.width}, rng).to_vector<float>(),
          test::random_tensor({c.batch, c.out, c.height, c.width}, rng).to_vector<float>()};
}

using test::round_bf16;

// G g Gᵀ, in fp32 in the kernel's order of operations.
std::array<float, 16> filter_transform(const std::array<float, 9>& g) {
  float r[4][3];
  for (int j = 0; j < 3; ++j) {
    const float outer = g[j] + g[6 + j];
    r[0][j] = g[j];
    r[1][j] = 0.5f * (outer + g[3 + j]);
    r[2][j] = 0.5f * (outer - g[3 + j]);
    r[3][j] = g[6 + j];
  }
  std::array<float, 16> u{};
  for (int a = 0; a < 4; ++a) {
    const float outer = r[a][0] + r[a][2];
    u[4 * a + 0] = r[a][0];
    u[4 * a + 1] = 0.5f * (outer + r[a][1]);
    u[4 * a + 2] = 0.5f * (outer - r[a][1]);
    u[4 * a + 3] = r[a][2];
  }
  return u;
}

// Bᵀ d B, in fp32 in the kernel's order.
std::array<float, 16> input_transform(const float (&d)[4][4]) {
  float t[4][4];
  for (int s = 0; s < 4; ++s) {
    t[0][s] = d[0][s] - d[2][s];
    t[1][s] = d[1][s] + d[2][s];
    t[2][s] = d[2][s] - d[1][s];
    t[3][s] = d[1][s] - d[3][s];
  }
  std::array<float, 16> v{};
  for (int a = 0; a < 4; ++a) {
    v[4 * a + 0] = t[a][0] - t[a][2];
    v[4 * a + 1] = t[a][1] + t[a][2];
    v[4 * a + 2] = t[a][2] - t[a][1];
    v[4 * a + 3] = t[a][1] - t[a][3];
  }
  return v;
}

// The documented arithmetic of a Winograd convolution of `source` ([batch][depth][h][w]) into
// [batch][rows][h][w], with filter (row, depth) read by `filter`.
template <typename Filter>
std::vector<double> winograd_reference(const std::vector<float>& source, int64_t batch, int64_t depth, int64_t rows,
                                       int64_t height, int64_t width, const Filter& filter) {
  std::vector<std::array<float, 16>> u(static_cast<size_t>(rows * depth));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < depth; ++d) {
      u[size_t(r * depth + d)] = filter_transform(filter(r, d));
      for (float& x : u[size_t(r * depth + d)]) x = round_bf16(x);
    }
  std::vector<double> result(size_t(batch * rows * height * width));
  std::vector<std::array<float, 16>> v(static_cast<size_t>(depth));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t ty = 0; 2 * ty < height; ++ty)
      for (int64_t tx = 0; 2 * tx < width; ++tx) {
        for (int64_t d = 0; d < depth; ++d) {
          float patch[4][4];
          for (int r = 0; r < 4; ++r)
            for (int s = 0; s < 4; ++s) {
              const int64_t y = 2 * ty - 1 + r, x = 2 * tx - 1 + s;
              patch[r][s] = y >= 0 && y < height && x >= 0 && x < width
                                ? source[size_t(((n * depth + d) * height + y) * width + x)]
                                : 0.0f;
            }
          v[size_t(d)] = input_transform(patch);
          for (float& x : v[size_t(d)]) x = round_bf16(x);
        }
        for (int64_t r = 0; r < rows; ++r) {
          double m[16] = {};
          for (int64_t d = 0; d < depth; ++d)
            for (int xi = 0; xi < 16; ++xi) m[xi] += double(u[size_t(r * depth + d)][xi]) * v[size_t(d)][xi];
          double p[2][4];  // Aᵀ M
          for (int b = 0; b < 4; ++b) {
            p[0][b] = m[b] + m[4 + b] + m[8 + b];
            p[1][b] = m[4 + b] - m[8 + b] - m[12 + b];
          }
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int64_t y = 2 * ty + i, x = 2 * tx + j;
              if (y < height && x < width)
                result[size_t(((n * rows + r) * height + y) * width + x)] =
                    j == 0 ? p[i][0] + p[i][1] + p[i][2] : p[i][1] - p[i][2] - p[i][3];
            }
        }
      }
  return result;
}

// A dY Aᵀ of a tile's 2×2 output gradient, in fp32 in the kernel's order.
std::array<float, 16> output_grad_transform(const float (&g)[2][2]) {
  float q[4][2];
  for (int j = 0; j < 2; ++j) {
    q[0][j] = g[0][j];
    q[1][j] = g[0][j] + g[1][j];
    q[2][j] = g[0][j] - g[1][j];
    q[3][j] = 0.0f - g[1][j];
  }
  std::array<float, 16> w{};
  for (int a = 0; a < 4; ++a) {
    w[4 * a + 0] = q[a][0];
    w[4 * a + 1] = q[a][0] + q[a][1];
    w[4 * a + 2] = q[a][0] - q[a][1];
    w[4 * a + 3] = 0.0f - q[a][1];
  }
  return w;
}

// The documented arithmetic of the weight gradient: Σ over tiles of the rounded A dY Aᵀ times the
// rounded Bᵀ d B in double, then Gᵀ · G in double. [out][in][9].
std::vector<double> weight_grad_reference(const Case& c, const Operands& o) {
  std::vector<double> du(size_t(c.out * c.in * 16));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t ty = 0; 2 * ty < c.height; ++ty)
      for (int64_t tx = 0; 2 * tx < c.width; ++tx) {
        std::vector<std::array<float, 16>> v(static_cast<size_t>(c.in)), w(static_cast<size_t>(c.out));
        for (int64_t d = 0; d < c.in; ++d) {
          float patch[4][4];
          for (int r = 0; r < 4; ++r)
            for (int s = 0; s < 4; ++s) {
              const int64_t y = 2 * ty - 1 + r, x = 2 * tx - 1 + s;
              patch[r][s] = y >= 0 && y < c.height && x >= 0 && x < c.width
                                ? o.x[size_t(((n * c.in + d) * c.height + y) * c.width + x)]
                                : 0.0f;
            }
          v[size_t(d)] = input_transform(patch);
        }
        for (int64_t k = 0; k < c.out; ++k) {
          float g[2][2];
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int64_t y = 2 * ty + i, x = 2 * tx + j;
              g[i][j] = y < c.height && x < c.width ? o.dy[size_t(((n * c.out + k) * c.height + y) * c.width + x)] : 0.0f;
            }
          w[size_t(k)] = output_grad_transform(g);
        }
        for (int64_t k = 0; k < c.out; ++k)
          for (int64_t d = 0; d < c.in; ++d)
            for (int xi = 0; xi < 16; ++xi)
              du[size_t((k * c.in + d) * 16 + xi)] +=
                  double(round_bf16(w[size_t(k)][xi])) * round_bf16(v[size_t(d)][xi]);
      }
  std::vector<double> dw(size_t(c.out * c.in * 9));
  for (size_t f = 0; f < size_t(c.out * c.in); ++f) {
    const double* u = &du[f * 16];
    double r[3][4];  // Gᵀ dU
    for (int b = 0; b < 4; ++b) {
      r[0][b] = u[b] + 0.5 * (u[4 + b] + u[8 + b]);
      r[1][b] = 0.5 * (u[4 + b] - u[8 + b]);
      r[2][b] = 0.5 * (u[4 + b] + u[8 + b]) + u[12 + b];
    }
    for (int i = 0; i < 3; ++i) {
      dw[f * 9 + 3 * i + 0] = r[i][0] + 0.5 * (r[i][1] + r[i][2]);
      dw[f * 9 + 3 * i + 1] = 0.5 * (r[i][1] - r[i][2]);
      dw[f * 9 + 3 * i + 2] = 0.5 * (r[i][1] + r[i][2]) + r[i][3];
    }
  }
  return dw;
}

// The exact weight gradient in double: Σ dy · x over images and pixels, [out][in][9].
std::vector<double> direct_weight_grad(const Case& c, const Operands& o) {
  std::vector<double> dw(size_t(c.out * c.in * 9));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t k = 0; k < c.out; ++k)
      for (int64_t in = 0; in < c.in; ++in)
        for (int t = 0; t < 9; ++t)
          for (int64_t y = 0; y < c.height; ++y)
            for (int64_t x = 0; x < c.width; ++x) {
              const int64_t sy = y - 1 + t / 3, sx = x - 1 + t % 3;
              if (sy < 0 || sy >= c.height || sx < 0 || sx >= c.width) continue;
              dw[size_t((k * c.in + in) * 9 + t)] += double(o.dy[size_t(((n * c.out + k) * c.height + y) * c.width + x)]) *
                                                     o.x[size_t(((n * c.in + in) * c.height + sy) * c.width + sx)];
            }
  return dw;
}

// The direct convolution in double: [batch][depth][h][w] into [batch][rows][h][w], padding 1.
template <typename Filter>
std::vector<double> direct_reference(const std::vector<float>& source, int64_t batch, int64_t depth, int64_t rows,
                                     int64_t height, int64_t width, const Filter& filter) {
  std::vector<double> result(size_t(batch * rows * height * width));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < depth; ++d) {
        const std::array<float, 9> g = filter(r, d);
        for (int64_t y = 0; y < height; ++y)
          for (int64_t x = 0; x < width; ++x) {
            double sum = 0;
            for (int i = 0; i < 3; ++i)
              for (int j = 0; j < 3; ++j) {
                const int64_t sy = y - 1 + i, sx = x - 1 + j;
                if (sy >= 0 && sy < height && sx >= 0 && sx < width)
                  sum += double(g[size_t(3 * i + j)]) * source[size_t(((n * depth + d) * height + sy) * width + sx)];
              }
            result[size_t(((n * rows + r) * height + y) * width + x)] += sum;
          }
      }
  return result;
}

// ‖got − expected‖ / ‖expected‖.
double normwise_error(const std::vector<float>& got, const std::vector<double>& expected) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += (got[i] - expected[i]) * (got[i] - expected[i]);
    norm += expected[i] * expected[i];
  }
  return std::sqrt(diff / norm);
}

std::vector<float> forward(const Case& c, const Operands& o) {
  std::vector<float> y(size_t(c.batch * c.out * c.height * c.width));
  cpu::conv_forward_winograd(o.weight.data(), c.out, o.x.data(), c.batch, geometry(c), y.data());
  return y;
}

std::vector<float> weight_grad(const Case& c, const Operands& o) {
  std::vector<float> dw(size_t(c.out * c.in * 9), 0.0f);
  cpu::conv_weight_grad_winograd(o.dy.data(), c.out, o.x.data(), c.batch, geometry(c), dw.data());
  return dw;
}

std::vector<float> input_grad(const Case& c, const Operands& o) {
  std::vector<float> dx(size_t(c.batch * c.in * c.height * c.width));
  cpu::conv_input_grad_winograd(o.weight.data(), c.out, o.dy.data(), c.batch, geometry(c), dx.data());
  return dx;
}

// Filter (out k, in c) as stored, and turned by 180° for the input gradient (row c, depth k).
auto forward_filter(const Case& c, const Operands& o) {
  return [&c, &o](int64_t k, int64_t in) {
    std::array<float, 9> g{};
    for (int t = 0; t < 9; ++t) g[size_t(t)] = o.weight[size_t((k * c.in + in) * 9 + t)];
    return g;
  };
}
auto turned_filter(const Case& c, const Operands& o) {
  return [&c, &o](int64_t in, int64_t k) {
    std::array<float, 9> g{};
    for (int t = 0; t < 9; ++t) g[size_t(t)] = o.weight[size_t((k * c.in + in) * 9 + 8 - t)];
    return g;
  };
}

TEST_P(ConvWinograd, ComputesItsDocumentedArithmeticAndStaysWithinBf16OfTheConvolution) {
  auto rng = test::test_rng();
  for (const Case& c : kCases) {
    SCOPED_TRACE(case_name(c));
    const Operands o = random_operands(c, rng);
    const std::vector<float> y = forward(c, o), dx = input_grad(c, o), dw = weight_grad(c, o);
    const auto of_forward = forward_filter(c, o);
    const auto of_input_grad = turned_filter(c, o);
    EXPECT_LE(normwise_error(y, winograd_reference(o.x, c.batch, c.in, c.out, c.height, c.width, of_forward)), 1e-5);
    EXPECT_LE(normwise_error(dx, winograd_reference(o.dy, c.batch, c.out, c.in, c.height, c.width, of_input_grad)),
              1e-5);
    EXPECT_LE(normwise_error(dw, weight_grad_reference(c, o)), 1e-5);
    for (const auto& [name, got, exact] :
         {std::tuple{"output", &y, direct_reference(o.x, c.batch, c.in, c.out, c.height, c.width, of_forward)},
          std::tuple{"grad_input", &dx, direct_reference(o.dy, c.batch, c.out, c.in, c.height, c.width, of_input_grad)},
          std::tuple{"grad_weight", &dw, direct_weight_grad(c, o)}}) {
      SCOPED_TRACE(name);
      const double error = normwise_error(*got, exact);
      EXPECT_LE(error, 1e-2);
      EXPECT_GT(error, 1e-5) << "the same as fp32: bf16 did not round";
    }
  }
}

TEST_P(ConvWinograd, GivesTheSameBitsOnOneThreadAsOnTwo) {
  auto rng = test::test_rng();
  for (const Case& c : kCases) {
    SCOPED_TRACE(case_name(c));
    const Operands o = random_operands(c, rng);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    const std::vector<float> y2 = forward(c, o), dx2 = input_grad(c, o), dw2 = weight_grad(c, o);
    omp_set_num_threads(1);
    const std::vector<float> y1 = forward(c, o), dx1 = input_grad(c, o), dw1 = weight_grad(c, o);
    omp_set_num_threads(threads);
    EXPECT_EQ(y1, y2);
    EXPECT_EQ(dx1, dx2);
    EXPECT_EQ(dw1, dw2);
  }
}

TEST_P(ConvWinograd, AppliesToThreeByThreeStrideOnePaddingOneWithEnoughChannelsAndTiles) {
  const ConvGeometry conv3_2{256, 56, 56, 3, 3, 1, 1, 1, 1};
  EXPECT_TRUE(cpu::conv_winograd_applies(8, 256, conv3_2));
  EXPECT_TRUE(cpu::conv_winograd_applies(1, 16, ConvGeometry{16, 32, 31, 3, 3, 1, 1, 1, 1}));   // 256 tiles
  EXPECT_FALSE(cpu::conv_winograd_applies(1, 16, ConvGeometry{16, 29, 31, 3, 3, 1, 1, 1, 1}));  // 240 tiles
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 1024, ConvGeometry{1024, 7, 7, 3, 3, 1, 1, 1, 1}));  // 128 tiles
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 64, ConvGeometry{3, 224, 224, 3, 3, 1, 1, 1, 1}));   // conv1_1
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 15, conv3_2));
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 256, ConvGeometry{256, 56, 56, 3, 3, 2, 2, 1, 1}));
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 256, ConvGeometry{256, 56, 56, 3, 3, 1, 1, 0, 0}));
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 256, ConvGeometry{256, 56, 56, 5, 5, 1, 1, 2, 2}));
  {
    cpu::WinogradOff off;
    EXPECT_FALSE(cpu::conv_winograd_applies(8, 256, conv3_2));
  }
  PrecisionScope fp32(Precision::fp32);
  EXPECT_FALSE(cpu::conv_winograd_applies(8, 256, conv3_2));
}

TEST_P(ConvWinograd, Conv2dAtBf16TakesItForForwardAndBothGradients) {
  auto rng = test::test_rng();
  const Case c{4, 24, 20, 16, 15};  // 256 tiles
  Conv2d conv(c.in, c.out, {3, 3}, {1, 1}, {1, 1});
  test::randomize_parameters(conv, rng);
  const Operands o{conv.weight().value.to_vector<float>(),
                   test::random_tensor({c.batch, c.in, c.height, c.width}, rng).to_vector<float>(),
                   test::random_tensor({c.batch, c.out, c.height, c.width}, rng).to_vector<float>()};
  const Tensor x = Tensor::from_vector(o.x, {c.batch, c.in, c.height, c.width});
  const Tensor y = conv.forward({x}, Mode::train);
  std::vector<float> expected_y = forward(c, o);
  const std::vector<float> bias = conv.bias().value.to_vector<float>();
  for (size_t i = 0; i < expected_y.size(); ++i) expected_y[i] += bias[i / size_t(c.height * c.width) % size_t(c.out)];
  EXPECT_EQ(y.to_vector<float>(), expected_y);

  conv.zero_grad();
  const Tensor dx = conv.backward(Tensor::from_vector(o.dy, y.shape()), {true}).at(0);
  EXPECT_EQ(dx.to_vector<float>(), input_grad(c, o));
  // At bf16 Conv2d keeps its input as bf16 (nn/layers/kept_activation.h): the weight gradient
  // transforms the rounded input.
  Operands kept = o;
  kept.x = test::rounded_bf16(o.x);
  EXPECT_EQ(conv.weight().grad.to_vector<float>(), weight_grad(c, kept));  // zero_grad: onto zeros
}

INSTANTIATE_TEST_SUITE_P(Paths, ConvWinograd, testing::ValuesIn(kPaths),
                         [](const testing::TestParamInfo<Path>& info) { return info.param.name; });

}  // namespace
}  // namespace i2v
