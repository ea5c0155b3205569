// t-SNE: well separated clusters stay separated in the map (from float features and from
// binary codes), the result is the same for the same seed whatever the thread count, and the
// exact float neighbours match brute force. Contact sheets and the thumbnail map: sizes,
// highlighted frames, and missing images drawn as placeholders instead of failing.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "apps/render.h"
#include "index/tsne.h"
#include "base/error.h"
#include "tests/index_test_util.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {


// `clusters` Gaussian blobs of `per` points in `dims` dimensions, centres 10 apart, spread 1.
std::vector<float> blobs(int clusters, int per, int dims, std::mt19937_64& rng, std::vector<int64_t>& labels) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x;
  for (int c = 0; c < clusters; ++c) {
    std::vector<float> centre(static_cast<size_t>(dims));
    for (float& v : centre) v = 10.0f * normal(rng);
    for (int p = 0; p < per; ++p) {
      for (int d = 0; d < dims; ++d) x.push_back(centre[size_t(d)] + normal(rng));
      labels.push_back(c);
    }
  }
  return x;
}

// Every point's nearest point in the map has its label.
double nearest_same_label(const std::vector<float>& y, const std::vector<int64_t>& labels) {
  const size_t n = labels.size();
  size_t same = 0;
  for (size_t i = 0; i < n; ++i) {
    double best = INFINITY;
    size_t nearest = i;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double d = std::hypot(y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
      if (d < best) best = d, nearest = j;
    }
    same += labels[nearest] == labels[i];
  }
  return double(same) / double(n);
}

// The smallest distance between two cluster centres over the largest median distance of a
// cluster's points from its centre: well above 1 when the clusters are apart (a stray point or
// two does not change it).
double separation(const std::vector<float>& y, const std::vector<int64_t>& labels, int clusters) {
  std::vector<double> cx(size_t(clusters), 0), cy(size_t(clusters), 0), count(size_t(clusters), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    cx[size_t(labels[i])] += y[2 * i];
    cy[size_t(labels[i])] += y[2 * i + 1];
    ++count[size_t(labels[i])];
  }
  for (int c = 0; c < clusters; ++c) cx[size_t(c)] /= count[size_t(c)], cy[size_t(c)] /= count[size_t(c)];
  double radius = 0, gap = INFINITY;
  for (int c = 0; c < clusters; ++c) {
    std::vector<double> distances;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) distances.push_back(std::hypot(y[2 * i] - cx[size_t(c)], y[2 * i + 1] - cy[size_t(c)]));
    std::nth_element(distances.begin(), distances.begin() + long(distances.size() / 2), distances.end());
    radius = std::max(radius, distances[distances.size() / 2]);
    for (int d = 0; d < c; ++d) gap = std::min(gap, std::hypot(cx[size_t(c)] - cx[size_t(d)], cy[size_t(c)] - cy[size_t(d)]));
  }
  return gap / radius;
}

// KL(P ‖ Q) of the map y, exactly, in double.
double kl_divergence(const TsneAffinities& p, const std::vector<double>& y) {
  const size_t n = y.size() / 2;
  double z = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j) z += 1.0 / (1.0 + std::pow(y[2 * i] - y[2 * j], 2) + std::pow(y[2 * i + 1] - y[2 * j + 1], 2));
  double kl = 0;
  for (size_t i = 0; i < n; ++i) {
    for (int64_t e = p.offsets[i]; e < p.offsets[i + 1]; ++e) {
      const size_t j = size_t(p.columns[size_t(e)]);
      if (p.values[size_t(e)] == 0) continue;  // far neighbours underflow to 0: 0 · log 0 = 0
      const double q = 1.0 / (1.0 + std::pow(y[2 * i] - y[2 * j], 2) + std::pow(y[2 * i + 1] - y[2 * j + 1], 2)) / z;
      kl += p.values[size_t(e)] * std::log(p.values[size_t(e)] / q);
    }
  }
  return kl;
}

TEST(Tsne, AffinitiesAreSymmetricAndSumToOne) {
  auto rng = test::test_rng();
  std::vector<int64_t> labels;
  const std::vector<float> x = blobs(2, 30, 4, rng, labels);
  const TsneAffinities p = tsne_affinities(float_neighbourhoods(x.data(), 60, 4, 15), 5);
  double total = 0;
  std::map<std::pair<int32_t, int32_t>, double> entries;
  for (int32_t i = 0; i < 60; ++i)
    for (int64_t e = p.offsets[size_t(i)]; e < p.offsets[size_t(i) + 1]; ++e) {
      EXPECT_GE(p.values[size_t(e)], 0);
      EXPECT_NE(p.columns[size_t(e)], i);
      entries[{i, p.columns[size_t(e)]}] = p.values[size_t(e)];
      total += p.values[size_t(e)];
    }
  EXPECT_NEAR(total, 1.0, 1e-12);
  for (const auto& [ij, v] : entries) EXPECT_DOUBLE_EQ(entries.at({ij.second, ij.first}), v);
}

// P of `clusters` blobs of `per` points in `dims` dimensions (k neighbours, `perplexity`), and a
// random map of them with coordinates of standard deviation `spread`.
std::pair<TsneAffinities, std::vector<double>> blob_problem(int clusters, int per, int dims, int k, double perplexity,
                                                            double spread, std::mt19937_64& rng) {
  std::vector<int64_t> labels;
  const std::vector<float> x = blobs(clusters, per, dims, rng, labels);
  const int64_t n = int64_t(clusters) * per;
  std::normal_distribution<double> normal(0.0, spread);
  std::vector<double> y(size_t(2 * n));
  for (double& v : y) v = normal(rng);
  return {tsne_affinities(float_neighbourhoods(x.data(), n, dims, k), perplexity), y};
}

TEST(Tsne, ExactGradientMatchesCentralDifferencesOfKL) {
  auto rng = test::test_rng();
  const auto [p, y] = blob_problem(3, 10, 6, 12, 4, 1.0, rng);
  std::vector<double> gradient;
  tsne_gradient(p, y, 0.0, 1.0, gradient);
  const double step = 1e-6;
  for (size_t c = 0; c < y.size(); ++c) {
    std::vector<double> plus = y, minus = y;
    plus[c] += step;
    minus[c] -= step;
    const double numeric = (kl_divergence(p, plus) - kl_divergence(p, minus)) / (2 * step);
    EXPECT_NEAR(gradient[c], numeric, 1e-6 * std::max({std::fabs(numeric), std::fabs(gradient[c]), 1.0})) << c;
  }
}

TEST(Tsne, BarnesHutGradientIsCloseToExact) {
  auto rng = test::test_rng();
  const auto [p, y] = blob_problem(4, 100, 5, 30, 10, 5.0, rng);
  std::vector<double> exact, approximate;
  tsne_gradient(p, y, 0.0, 1.0, exact);
  tsne_gradient(p, y, 0.5, 1.0, approximate);
  double error = 0, norm = 0;
  for (size_t c = 0; c < y.size(); ++c) {
    error += std::pow(exact[c] - approximate[c], 2);
    norm += exact[c] * exact[c];
  }
  EXPECT_LT(std::sqrt(error / norm), 0.05);
  EXPECT_GT(std::sqrt(error / norm), 0.0) << "theta = 0.5 should approximate";
}

TEST(Tsne, FloatNeighboursMatchBruteForce) {
  auto rng = test::test_rng();
  std::vector<int64_t> labels;
  const std::vector<float> x = blobs(3, 100, 7, rng, labels);
  const int64_t n = 300;
  const int k = 9;
  const Neighbourhoods nb = float_neighbourhoods(x.data(), n, 7, k);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> exact(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j)
      for (int c = 0; c < 7; ++c) exact[size_t(j)] += std::pow(double(x[size_t(i * 7 + c)]) - x[size_t(j * 7 + c)], 2);
    std::vector<std::pair<double, int32_t>> sorted;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) sorted.push_back({exact[size_t(j)], int32_t(j)});
    std::sort(sorted.begin(), sorted.end());
    std::set<int32_t> rows;
    for (int r = 0; r < k; ++r) {
      const double tolerance = 1e-3 * (1 + sorted[size_t(r)].first);
      const int32_t row = nb.rows[size_t(i * k + r)];
      EXPECT_NEAR(nb.squared_distances[size_t(i * k + r)], sorted[size_t(r)].first, tolerance);
      // The row may differ from brute force's only where distances tie to float precision.
      EXPECT_NEAR(exact[size_t(row)], sorted[size_t(r)].first, tolerance) << "point " << i << ", rank " << r;
      EXPECT_NE(row, i);
      rows.insert(row);
    }
    EXPECT_EQ(rows.size(), size_t(k));
  }
}

TEST(Tsne, SeparatedClustersStaySeparated) {
  auto rng = test::test_rng();
  std::vector<int64_t> labels;
  const int clusters = 4, per = 60, dims = 20;
  const std::vector<float> x = blobs(clusters, per, dims, rng, labels);
  const int64_t n = clusters * per;
  TsneOptions options;
  options.perplexity = 15;
  options.iterations = 400;
  options.seed = 7;
  const Neighbourhoods nb = float_neighbourhoods(x.data(), n, dims, tsne_neighbours(options.perplexity, n));
  const std::vector<float> y = tsne(nb, options);
  ASSERT_EQ(y.size(), size_t(2 * n));
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GE(nearest_same_label(y, labels), 0.97);
  EXPECT_GT(separation(y, labels, clusters), 3.0);
}

TEST(Tsne, BinaryCodeClustersStaySeparated) {
  auto rng = test::test_rng();
  const int clusters = 3, per = 50, words = 4;
  const std::vector<uint64_t> prototypes = test::random_codes(clusters, words, rng);
  std::vector<uint64_t> codes;
  std::vector<int64_t> labels;
  for (int c = 0; c < clusters; ++c) {
    for (int p = 0; p < per; ++p) {
      for (int w = 0; w < words; ++w) codes.push_back(prototypes[size_t(c * words + w)] ^ (rng() & rng() & rng()));
      labels.push_back(c);
    }
  }
  TsneOptions options;
  options.perplexity = 10;
  options.iterations = 1000;
  const int64_t n = clusters * per;
  const KnnLists knn = all_pairs_knn({codes.data(), n, words}, tsne_neighbours(options.perplexity, n), Device::cpu());
  const std::vector<float> y = tsne(neighbourhoods_from_knn(knn), options);
  EXPECT_GE(nearest_same_label(y, labels), 0.97);
  EXPECT_GT(separation(y, labels, clusters), 3.0);
}

TEST(Tsne, DeterministicForASeedWhateverTheThreads) {
  auto rng = test::test_rng();
  std::vector<int64_t> labels;
  const std::vector<float> x = blobs(3, 40, 5, rng, labels);
  TsneOptions options;
  options.perplexity = 8;
  options.iterations = 120;
  options.theta = 0.8;
  options.seed = 11;
  const Neighbourhoods nb = float_neighbourhoods(x.data(), 120, 5, tsne_neighbours(options.perplexity, 120));
  const int threads = omp_get_max_threads();
  const std::vector<float> a = tsne(nb, options);
  omp_set_num_threads(1);
  const std::vector<float> b = tsne(nb, options);
  omp_set_num_threads(std::max(2, threads));
  const std::vector<float> c = tsne(nb, options);
  omp_set_num_threads(threads);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  options.seed = 12;
  EXPECT_NE(tsne(nb, options), a);
  int reported = 0;
  options.progress = [&](int iteration, int total) {
    EXPECT_EQ(total, 120);
    reported = iteration;
  };
  tsne(nb, options);
  EXPECT_EQ(reported, 120);
}

TEST(Tsne, RefusesAPerplexityAboveTheNeighbours) {
  Neighbourhoods nb;
  nb.count = 10;
  nb.k = 5;
  nb.rows.assign(50, 0);
  nb.squared_distances.assign(50, 1.0f);
  TsneOptions options;
  options.perplexity = 5;
  EXPECT_THROW(tsne(nb, options), Error);
  EXPECT_THROW(tsne_neighbours(30, 1), Error);
  EXPECT_EQ(tsne_neighbours(30, 50), 49);
  EXPECT_EQ(tsne_neighbours(30, 5000), 90);
}

Image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = w;
  image.height = h;
  for (int i = 0; i < w * h; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

class Render : public test::TempDirectoryTest {};

TEST_F(Render, ContactSheetWithAMissingImage) {
  save_png(path("red.png"), solid(40, 20, 255, 0, 0));
  save_png(path("blue.png"), solid(10, 30, 0, 0, 255));
  std::vector<std::string> failures;
  const Image sheet = contact_sheet({path("red.png"), path("missing.png"), path("blue.png")}, 32, 2, {0},
                                    failures);
  EXPECT_EQ(sheet.width, 2 * (32 + 8));
  EXPECT_EQ(sheet.height, 2 * (32 + 8));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("missing.png"), std::string::npos) << failures[0];
  const uint8_t* red_centre = sheet.pixel(4 + 16, 4 + 16);
  EXPECT_GT(red_centre[0], 200);
  EXPECT_LT(red_centre[2], 50);
  const uint8_t* letterbox = sheet.pixel(4 + 16, 4 + 2);  // above the 32x16 red band: white
  EXPECT_EQ(letterbox[1], 255);
  const uint8_t* frame = sheet.pixel(4 - 2, 4 + 10);      // the highlighted query's frame
  EXPECT_GT(frame[0], 200);
  EXPECT_LT(frame[2], 50);
  const uint8_t* blue_centre = sheet.pixel(4 + 16, 40 + 4 + 16);
  EXPECT_GT(blue_centre[2], 200);
  EXPECT_EQ(resolve_image_path("/data", "a/b.png"), "/data/a/b.png");
  EXPECT_EQ(resolve_image_path("/data", "/abs/b.png"), "/abs/b.png");
  EXPECT_EQ(resolve_image_path("", "a/b.png"), "a/b.png");
}

TEST_F(Render, ThumbnailMapPlacesOneImagePerCell) {
  save_png(path("g.png"), solid(8, 8, 0, 255, 0));
  // Two points far apart and a third on top of the first: two thumbnails.
  const std::vector<float> xy = {0, 0, 10, 10, 0.001f, 0};
  std::vector<std::string> failures;
  Image canvas;
  const int drawn = thumbnail_map(xy, {path("g.png"), path("g.png"), path("g.png")}, {}, 100, 20, 1, canvas,
                                  failures);
  EXPECT_EQ(drawn, 2);
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(canvas.width, 100);
  EXPECT_EQ(canvas.pixel(10, 10)[1], 255);  // top-left thumbnail
  EXPECT_EQ(canvas.pixel(90, 90)[1], 255);  // bottom-right thumbnail
  EXPECT_EQ(canvas.pixel(50, 50)[0], 255);  // nothing between: white
  Image dots;
  EXPECT_EQ(thumbnail_map(xy, {}, {0, 1, 0}, 100, 20, 1, dots, failures), 0);
  EXPECT_LT(dots.pixel(10, 10)[0] + 0, 255);  // a labelled dot where the first point is
}

}  // namespace
}  // namespace i2v
