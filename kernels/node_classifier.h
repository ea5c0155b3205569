// The GCN head's per-category binary classifiers (nn/layers/node_classifier.h). Node c of image
// n has the features z[n][c][0, D) and category c its own classifier, weight[c] and bias[c]:
//
//   forward       s[n][c]         = Σ_d weight[c][d] · z[n][c][d] + bias[c]
//   input grad    dz[n][c][d]     = ds[n][c] · weight[c][d]
//   weight grad   dweight[c][d]  += Σ_n ds[n][c] · z[n][c][d]
//   bias grad     dbias[c]       += Σ_n ds[n][c]
//
// The sums are kernels/reduce.h's per-channel sums over the product terms below (in double on
// the CPU; deterministic trees, no atomics, on the GPU), so both devices agree to rounding and
// every run gives the same bits.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace i2v {

// The forward's terms, as channel sums over [1, N·C rows, D]: element i of row r = n·C + c is
// z[n][c][d] with d = i − r·D.
template <typename T>
struct NodeScoreTerms {
  const T* z;
  const T* weight;
  int64_t nodes, features;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t row) const {
    return {{weight[(row % nodes) * features + (i - row * features)] * z[i]}};
  }
};

// The weight gradient's terms, as channel sums over [N, C·D, 1]: element i of channel
// c·D + d is z[n][c][d] with n = i / (C·D).
template <typename T>
struct NodeWeightGradTerms {
  const T* ds;
  const T* z;
  int64_t nodes, features;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t channel) const {
    return {{ds[i / (nodes * features) * nodes + channel / features] * z[i]}};
  }
};

template <typename T>
struct NodeInputGrad {
  const T* ds;
  const T* weight;
  T* dz;
  int64_t nodes, features;
  I2V_HD void operator()(int64_t i) const {
    const int64_t row = i / features;
    dz[i] = ds[row] * weight[(row % nodes) * features + (i - row * features)];
  }
};

}  // namespace i2v

// scores [batch, nodes] from z [batch, nodes, features], weight [nodes, features] and bias
// [nodes] (nullptr: none).
I2V_DECLARE_FLOATING_KERNEL(void node_classifier_forward(const scalar_t* z, const scalar_t* weight,
                                                         const scalar_t* bias, int64_t batch, int64_t nodes,
                                                         int64_t features, scalar_t* scores))
// From ds [batch, nodes]: writes dz (when not nullptr) and adds into weight_grad and bias_grad
// (each when not nullptr).
I2V_DECLARE_FLOATING_KERNEL(void node_classifier_backward(const scalar_t* ds, const scalar_t* z,
                                                          const scalar_t* weight, int64_t batch, int64_t nodes,
                                                          int64_t features, scalar_t* dz, scalar_t* weight_grad,
                                                          scalar_t* bias_grad))
