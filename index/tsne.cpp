#include "index/tsne.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <Eigen/Dense>

#include "base/error.h"

namespace i2v {
namespace {

// ---- input similarities ---------------------------------------------------------------------

// p_{j|i} over i's neighbours for the precision beta that gives the wanted perplexity (a
// bisection on beta, as in bh-tsne), written to `p`.
void conditional_p(const float* squared_distances, int k, double perplexity, double* p) {
  const double target_entropy = std::log(perplexity);
  const double nearest = squared_distances[0];
  double beta = 1.0, low = 0.0, high = INFINITY;
  for (int step = 0; step < 200; ++step) {
    double sum = 0, weighted = 0;
    for (int j = 0; j < k; ++j) {
      const double shifted = double(squared_distances[j]) - nearest;  // exp(0) at the nearest: no underflow
      p[j] = std::exp(-beta * shifted);
      sum += p[j];
      weighted += shifted * p[j];
    }
    const double entropy = std::log(sum) + beta * weighted / sum;
    for (int j = 0; j < k; ++j) p[j] /= sum;
    if (std::fabs(entropy - target_entropy) < 1e-5) break;
    if (entropy > target_entropy) {  // too flat: sharpen
      low = beta;
      beta = std::isinf(high) ? beta * 2 : (beta + high) / 2;
    } else {
      high = beta;
      beta = (beta + low) / 2;
    }
  }
}

// ---- the Barnes-Hut quadtree ----------------------------------------------------------------

// A cell of the map. Leaves hold the points at [begin, end) of the tree order; points that fall
// together beyond the depth limit share a leaf.
struct Cell {
  double mass_x = 0, mass_y = 0;  // centre of mass
  double width2 = 0;              // (cell width)²
  int32_t count = 0;
  int32_t children[4] = {-1, -1, -1, -1};
  int32_t begin = 0, end = 0;
  bool leaf() const { return children[0] < 0 && children[1] < 0 && children[2] < 0 && children[3] < 0; }
};

class QuadTree {
 public:
  explicit QuadTree(const std::vector<double>& y) : y_(y) {
    const int64_t n = int64_t(y.size() / 2);
    order_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) order_[size_t(i)] = int32_t(i);
    double min_x = INFINITY, min_y = INFINITY, max_x = -INFINITY, max_y = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      min_x = std::min(min_x, y[size_t(2 * i)]);
      max_x = std::max(max_x, y[size_t(2 * i)]);
      min_y = std::min(min_y, y[size_t(2 * i + 1)]);
      max_y = std::max(max_y, y[size_t(2 * i + 1)]);
    }
    const double half = std::max(max_x - min_x, max_y - min_y) / 2 * (1 + 1e-9) + 1e-12;
    cells_.reserve(size_t(2 * n + 1));
    build((min_x + max_x) / 2, (min_y + max_y) / 2, half, 0, n, 0);
    // The points in tree order, so that a leaf's points are contiguous.
    ordered_.resize(size_t(2 * n));
    for (int64_t e = 0; e < n; ++e) {
      ordered_[size_t(2 * e)] = y[size_t(2 * order_[size_t(e)])];
      ordered_[size_t(2 * e + 1)] = y[size_t(2 * order_[size_t(e)] + 1)];
    }
  }

  // The points in tree order: neighbours in the map are near in it (better cache use when the
  // points are visited in this order).
  const std::vector<int32_t>& order() const { return order_; }

  // Repulsion on point i: sum over j != i of q_ij = 1/(1 + |y_i - y_j|²) (returned) and of
  // q_ij² (y_i - y_j) (added to force), far cells taken whole when width / distance < theta.
  double repulsion(int64_t i, double theta, double force[2]) const {
    const double xi = y_[size_t(2 * i)], yi = y_[size_t(2 * i + 1)], theta2 = theta * theta;
    double sum_q = 0;
    int32_t stack[256];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const Cell& c = cells_[size_t(stack[--top])];
      if (c.leaf()) {
        for (int32_t e = c.begin; e < c.end; ++e) {
          if (order_[size_t(e)] == i) continue;
          const double px = xi - ordered_[size_t(2 * e)], py = yi - ordered_[size_t(2 * e + 1)];
          const double q = 1.0 / (1.0 + px * px + py * py);
          sum_q += q;
          force[0] += q * q * px;
          force[1] += q * q * py;
        }
        continue;
      }
      const double dx = xi - c.mass_x, dy = yi - c.mass_y, d2 = dx * dx + dy * dy;
      if (c.width2 < theta2 * d2) {
        const double q = 1.0 / (1.0 + d2), mass = double(c.count);
        sum_q += mass * q;
        force[0] += mass * q * q * dx;
        force[1] += mass * q * q * dy;
      } else {
        for (int32_t child : c.children)
          if (child >= 0) stack[top++] = child;
      }
    }
    return sum_q;
  }

 private:
  static constexpr int kMaxDepth = 48;

  // Builds the cell of points order[begin, end) centred on (cx, cy) and returns its index.
  int32_t build(double cx, double cy, double half, int64_t begin, int64_t end, int depth) {
    const int32_t index = int32_t(cells_.size());
    cells_.emplace_back();
    Cell cell;
    cell.width2 = 4 * half * half;
    cell.count = int32_t(end - begin);
    cell.begin = int32_t(begin);
    cell.end = int32_t(end);
    for (int64_t e = begin; e < end; ++e) {
      cell.mass_x += y_[size_t(2 * order_[size_t(e)])];
      cell.mass_y += y_[size_t(2 * order_[size_t(e)] + 1)];
    }
    cell.mass_x /= double(cell.count);
    cell.mass_y /= double(cell.count);
    if (cell.count > 1 && depth < kMaxDepth) {
      // Quadrants: split on y, then each half on x.
      auto x_of = [&](int32_t p) { return y_[size_t(2 * p)]; };
      auto y_of = [&](int32_t p) { return y_[size_t(2 * p + 1)]; };
      const auto first = order_.begin() + begin, last = order_.begin() + end;
      const auto mid_y = std::partition(first, last, [&](int32_t p) { return y_of(p) < cy; });
      const auto mid_low = std::partition(first, mid_y, [&](int32_t p) { return x_of(p) < cx; });
      const auto mid_high = std::partition(mid_y, last, [&](int32_t p) { return x_of(p) < cx; });
      const int64_t bounds[5] = {begin, mid_low - order_.begin(), mid_y - order_.begin(), mid_high - order_.begin(), end};
      const double h = half / 2;
      const double centres[4][2] = {{cx - h, cy - h}, {cx + h, cy - h}, {cx - h, cy + h}, {cx + h, cy + h}};
      for (int q = 0; q < 4; ++q)
        if (bounds[q + 1] > bounds[q])
          cell.children[q] = build(centres[q][0], centres[q][1], h, bounds[q], bounds[q + 1], depth + 1);
    }
    cells_[size_t(index)] = cell;
    return index;
  }

  const std::vector<double>& y_;
  std::vector<int32_t> order_;
  std::vector<double> ordered_;  // [n][2]: y in tree order
  std::vector<Cell> cells_;
};

// Two standard normal values from the generator (Box-Muller), the same on every platform.
std::pair<double, double> normal_pair(std::mt19937_64& rng) {
  const double u1 = (double(rng() >> 11) + 1.0) / 9007199254740993.0, u2 = double(rng() >> 11) / 9007199254740992.0;
  const double r = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * M_PI * u2;
  return {r * std::cos(angle), r * std::sin(angle)};
}

}  // namespace

Neighbourhoods neighbourhoods_from_knn(const KnnLists& knn) {
  Neighbourhoods nb;
  nb.count = knn.count;
  nb.k = knn.k;
  nb.rows = knn.rows;
  nb.squared_distances.assign(knn.distances.begin(), knn.distances.end());
  return nb;
}

int tsne_neighbours(double perplexity, int64_t count) {
  I2V_CHECK(perplexity >= 1, "t-SNE: perplexity {} (it must be at least 1)", perplexity);
  I2V_CHECK(count >= 2, "t-SNE: {} points; a map needs at least 2", count);
  return int(std::min<int64_t>(count - 1, int64_t(std::ceil(3 * perplexity))));
}

Neighbourhoods float_neighbourhoods(const float* features, int64_t count, int dims, int k, const ProgressCallback& progress) {
  I2V_CHECK(k >= 1 && k < count && dims >= 1, "neighbours: k = {} of {} points with {} values", k, count, dims);
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const Matrix> x(features, count, dims);
  const Eigen::VectorXf norms = x.rowwise().squaredNorm();
  Neighbourhoods nb;
  nb.count = count;
  nb.k = k;
  nb.rows.resize(size_t(count) * size_t(k));
  nb.squared_distances.resize(size_t(count) * size_t(k));
  constexpr int64_t kRowBlock = 128, kColumnBlock = 2048, kBlocksPerReport = 16;
  const int64_t row_blocks = (count + kRowBlock - 1) / kRowBlock;
  for (int64_t report = 0; report < row_blocks; report += kBlocksPerReport) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = report; b < std::min(row_blocks, report + kBlocksPerReport); ++b) {
      const int64_t r0 = b * kRowBlock, rows = std::min(kRowBlock, count - r0);
      // Per row a max-heap of the k nearest so far: (squared distance, column).
      std::vector<std::vector<std::pair<float, int32_t>>> heaps(static_cast<size_t>(rows));
      for (int64_t c0 = 0; c0 < count; c0 += kColumnBlock) {
        const int64_t columns = std::min(kColumnBlock, count - c0);
        const Matrix dots = x.middleRows(r0, rows) * x.middleRows(c0, columns).transpose();
        for (int64_t r = 0; r < rows; ++r) {
          auto& heap = heaps[size_t(r)];
          for (int64_t c = 0; c < columns; ++c) {
            if (c0 + c == r0 + r) continue;
            const float d = std::max(0.0f, norms[r0 + r] + norms[c0 + c] - 2 * dots(r, c));
            const std::pair<float, int32_t> candidate{d, int32_t(c0 + c)};
            if (int(heap.size()) < k) {
              heap.push_back(candidate);
              std::push_heap(heap.begin(), heap.end());
            } else if (candidate < heap.front()) {
              std::pop_heap(heap.begin(), heap.end());
              heap.back() = candidate;
              std::push_heap(heap.begin(), heap.end());
            }
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        auto& heap = heaps[size_t(r)];
        std::sort_heap(heap.begin(), heap.end());
        for (int j = 0; j < k; ++j) {
          nb.squared_distances[size_t((r0 + r) * k + j)] = heap[size_t(j)].first;
          nb.rows[size_t((r0 + r) * k + j)] = heap[size_t(j)].second;
        }
      }
    }
    if (progress) progress(std::min(count, (report + kBlocksPerReport) * kRowBlock), count);
  }
  return nb;
}

TsneAffinities tsne_affinities(const Neighbourhoods& nb, double perplexity) {
  const int64_t n = nb.count;
  const int k = nb.k;
  std::vector<double> conditional(size_t(n) * size_t(k));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    conditional_p(nb.squared_distances.data() + i * k, k, perplexity, conditional.data() + i * k);
  // P = (P_cond + P_condᵀ) / 2N: each entry lands at (i, j) and (j, i), then equal positions add.
  std::vector<int64_t> fill(size_t(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    fill[size_t(i) + 1] += k;
    for (int r = 0; r < k; ++r) ++fill[size_t(nb.rows[size_t(i * k + r)]) + 1];
  }
  for (size_t i = 1; i < fill.size(); ++i) fill[i] += fill[i - 1];
  std::vector<std::pair<int32_t, double>> entries(size_t(fill.back()));
  std::vector<int64_t> next(fill.begin(), fill.end() - 1);
  const double scale = 1.0 / (2.0 * double(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int r = 0; r < k; ++r) {
      const int32_t j = nb.rows[size_t(i * k + r)];
      const double p = conditional[size_t(i * k + r)] * scale;
      entries[size_t(next[size_t(i)]++)] = {j, p};
      entries[size_t(next[size_t(j)]++)] = {int32_t(i), p};
    }
  }
  TsneAffinities P;
  P.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    const auto begin = entries.begin() + fill[size_t(i)], end = entries.begin() + fill[size_t(i) + 1];
    std::sort(begin, end, [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto e = begin; e != end; ++e) {
      if (e != begin && e->first == (e - 1)->first) {
        P.values.back() += e->second;
        continue;
      }
      P.columns.push_back(e->first);
      P.values.push_back(e->second);
    }
    P.offsets.push_back(int64_t(P.columns.size()));
  }
  return P;
}

void tsne_gradient(const TsneAffinities& P, const std::vector<double>& y, double theta, double exaggeration,
                   std::vector<double>& gradient) {
  const int64_t n = int64_t(y.size() / 2);
  gradient.resize(y.size());
  std::vector<double> repulsion(y.size()), sum_q(static_cast<size_t>(n));
  const QuadTree tree(y);
  // Each point's forces depend only on the map: computed in parallel (in tree order, so that
  // neighbouring points walk the same cells), summed in a fixed order.
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t position = 0; position < n; ++position) {
    const int64_t i = tree.order()[size_t(position)];
    double repel[2] = {0, 0}, attract[2] = {0, 0};
    sum_q[size_t(i)] = tree.repulsion(i, theta, repel);
    for (int64_t e = P.offsets[size_t(i)]; e < P.offsets[size_t(i) + 1]; ++e) {
      const int32_t j = P.columns[size_t(e)];
      const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
      const double w = exaggeration * P.values[size_t(e)] / (1.0 + dx * dx + dy * dy);
      attract[0] += w * dx;
      attract[1] += w * dy;
    }
    for (int a = 0; a < 2; ++a) {
      gradient[size_t(2 * i + a)] = attract[a];
      repulsion[size_t(2 * i + a)] = repel[a];
    }
  }
  double z = 0;
  for (double q : sum_q) z += q;
  for (size_t c = 0; c < y.size(); ++c) gradient[c] = 4.0 * (gradient[c] - repulsion[c] / z);
}

std::vector<float> tsne(const Neighbourhoods& nb, const TsneOptions& o) {
  const int64_t n = nb.count;
  I2V_CHECK(n >= 2 && nb.k >= 1, "t-SNE: {} points with {} neighbours each", n, nb.k);
  I2V_CHECK(o.perplexity >= 1 && o.perplexity < nb.k,
            "t-SNE: perplexity {} needs more than {} neighbours per point, there are {}; lower the perplexity",
            o.perplexity, int(o.perplexity), nb.k);
  I2V_CHECK(o.iterations >= 1 && o.theta >= 0, "t-SNE: {} iterations, theta {}", o.iterations, o.theta);
  const TsneAffinities P = tsne_affinities(nb, o.perplexity);
  const double learning_rate =
      o.learning_rate > 0 ? o.learning_rate : std::max(double(n) / o.early_exaggeration / 4, 50.0);

  std::vector<double> y(size_t(2 * n)), update(size_t(2 * n), 0.0), gains(size_t(2 * n), 1.0), gradient;
  std::mt19937_64 rng(o.seed);
  for (int64_t i = 0; i < n; ++i) {
    const auto [a, b] = normal_pair(rng);
    y[size_t(2 * i)] = 1e-2 * a;  // N(0, 1e-4), as in the reference implementation
    y[size_t(2 * i + 1)] = 1e-2 * b;
  }
  for (int iteration = 0; iteration < o.iterations; ++iteration) {
    const bool exaggerating = iteration < o.exaggeration_iterations;
    tsne_gradient(P, y, o.theta, exaggerating ? o.early_exaggeration : 1.0, gradient);
    // Gradient descent with momentum and per-coordinate gains (Jacobs 1988), as bh-tsne.
    const double momentum = exaggerating ? 0.5 : 0.8;
    double mean[2] = {0, 0};
    for (int64_t c = 0; c < 2 * n; ++c) {
      double& gain = gains[size_t(c)];
      gain = (gradient[size_t(c)] > 0) != (update[size_t(c)] > 0) ? gain + 0.2 : std::max(gain * 0.8, 0.01);
      update[size_t(c)] = momentum * update[size_t(c)] - learning_rate * gain * gradient[size_t(c)];
      y[size_t(c)] += update[size_t(c)];
      mean[c % 2] += y[size_t(c)];
    }
    for (int64_t c = 0; c < 2 * n; ++c) y[size_t(c)] -= mean[c % 2] / double(n);
    if (o.progress) o.progress(iteration + 1, o.iterations);
  }
  return std::vector<float>(y.begin(), y.end());
}

}  // namespace i2v
