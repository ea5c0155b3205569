#include "tests/gemm_reference.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace i2v::test {
namespace {

// Whether C[i][j] is the reference's within the tolerance; reports the first 5 that are not.
void expect_element_matches(const GemmProblem& g, const std::vector<float>& a, const std::vector<float>& b,
                            const std::vector<float>& c0, const std::vector<float>& c, int64_t i, int64_t j,
                            int& reported) {
  double sum = 0, magnitude = 0;
  for (int64_t p = 0; p < g.k; ++p) {
    const double x = g.trans_a ? a[size_t(p * g.lda + i)] : a[size_t(i * g.lda + p)];
    const double y = g.trans_b ? b[size_t(j * g.ldb + p)] : b[size_t(p * g.ldb + j)];
    sum += x * y;
    magnitude += std::fabs(x * y);
  }
  double expected = g.alpha * sum;
  magnitude *= std::fabs(g.alpha);
  if (g.beta != 0.0f) {
    expected += g.beta * double(c0[size_t(i * g.ldc + j)]);
    magnitude += std::fabs(g.beta * double(c0[size_t(i * g.ldc + j)]));
  }
  const double got = c[size_t(i * g.ldc + j)];
  if (!(std::fabs(got - expected) <= fp32_sum_tolerance(g.k, magnitude)) && reported++ < 5)
    ADD_FAILURE() << "C[" << i << "][" << j << "] = " << got << ", expected " << expected;
}

}  // namespace

double fp32_sum_tolerance(int64_t terms, double magnitude) { return 2e-7 * double(terms + 4) * magnitude + 1e-30; }

void expect_gemm_matches_reference(const GemmProblem& g, const std::vector<float>& a, const std::vector<float>& b,
                                   const std::vector<float>& c0, const std::vector<float>& c) {
  int reported = 0;
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) expect_element_matches(g, a, b, c0, c, i, j, reported);
    for (int64_t j = g.n; j < g.ldc; ++j) {  // the padding between rows of C is never written
      const float before = c0[size_t(i * g.ldc + j)], after = c[size_t(i * g.ldc + j)];
      if (!(before == after || (std::isnan(before) && std::isnan(after))) && reported++ < 5)
        ADD_FAILURE() << "C[" << i << "][" << j << "] beyond n was written";
    }
  }
}

void expect_gemm_samples_match_reference(const GemmProblem& g, const std::vector<float>& a,
                                         const std::vector<float>& b, const std::vector<float>& c0,
                                         const std::vector<float>& c, int samples, uint64_t seed) {
  std::mt19937_64 sampler(seed);
  std::uniform_int_distribution<int64_t> row(0, g.m - 1), col(0, g.n - 1);
  int reported = 0;
  for (int s = 0; s < samples; ++s) {
    const int64_t i = row(sampler), j = col(sampler);
    expect_element_matches(g, a, b, c0, c, i, j, reported);
  }
}

}  // namespace i2v::test
