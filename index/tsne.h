// t-SNE (van der Maaten & Hinton 2008) with the Barnes-Hut approximation (van der Maaten 2014):
// a 2-D map of N feature vectors where near points stay near — the paper's Fig. 5.
//
// Input similarities come from each point's K = 3·perplexity nearest neighbours (exact: Hamming
// k-NN for binary codes, blocked GEMM for float features), calibrated per point to the
// perplexity and symmetrised: O(N·K) memory. Each gradient step builds a quadtree of the map and
// sums the repulsion of far cells through their centres of mass (θ = 0.5): O(N log N). The
// result depends only on the input and the seed — not on the number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "index/knn.h"

namespace i2v {

// Each point's K nearest other points and the squared distances to them.
struct Neighbourhoods {
  int64_t count = 0;
  int k = 0;
  std::vector<int32_t> rows;             // [count][k]
  std::vector<float> squared_distances;  // [count][k]
};

// For binary codes the Hamming distance is the squared Euclidean distance of their 0/1 vectors.
Neighbourhoods neighbourhoods_from_knn(const KnnLists& knn);

// Exact K nearest neighbours of `count` float vectors of `dims` values (row-major), by squared
// Euclidean distance (ties to the smaller row).
Neighbourhoods float_neighbourhoods(const float* features, int64_t count, int dims, int k,
                                    const ProgressCallback& progress = {});

// The neighbours t-SNE wants for a perplexity: 3·perplexity, at most count - 1.
int tsne_neighbours(double perplexity, int64_t count);

struct TsneOptions {
  double perplexity = 30;
  int iterations = 1000;
  double theta = 0.5;               // Barnes-Hut accuracy: 0 is exact, larger is faster
  double learning_rate = 0;         // 0: max(N / early_exaggeration / 4, 50), as scikit-learn
  double early_exaggeration = 12;
  int exaggeration_iterations = 250;
  uint64_t seed = 1;
  std::function<void(int iteration, int iterations)> progress;
};

// The 2-D map: [count][2] coordinates, centred on 0.
std::vector<float> tsne(const Neighbourhoods& neighbourhoods, const TsneOptions& options);

// The two halves of tsne(), exposed so tests can check them.
// P: p_{j|i} over each point's neighbours with the precision that gives the perplexity,
// symmetrised, (P + Pᵀ) / 2N, in compressed rows; it sums to 1.
struct TsneAffinities {
  std::vector<int64_t> offsets;
  std::vector<int32_t> columns;
  std::vector<double> values;
};
TsneAffinities tsne_affinities(const Neighbourhoods& neighbourhoods, double perplexity);
// The gradient of KL(P ‖ Q) with respect to the map `y` ([n][2]), P scaled by `exaggeration`,
// the repulsion approximated by Barnes-Hut at `theta` (0: exact). Written to `gradient`.
void tsne_gradient(const TsneAffinities& p, const std::vector<double>& y, double theta, double exaggeration,
                   std::vector<double>& gradient);

}  // namespace i2v
