// The GCN head's node_concat (nn/layers/node_concat.h): a per-image vector v[n][0, E) — the
// caption feature v_cap — appended to the features of each of the C nodes of image n, in
// y [N, C, W] at columns [offset, offset + E) (the layer copies the nodes' own features into the
// columns before), and its gradient, the sum over the nodes of those columns:
//
//   broadcast_to_nodes   y[n][c][offset + e] = v[n][e]
//   sum_over_nodes       dv[n][e]            = Σ_c dy[n][c][offset + e]
//
// The sum is kernels/reduce.h's per-channel sums over [C, N·E, 1] (in double on the CPU,
// deterministic on the GPU).
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace i2v {

// One element of the appended columns per i in [0, N·C·E).
template <typename T>
struct BroadcastToNodes {
  const T* v;
  T* y;
  int64_t nodes, extra, width, offset;
  I2V_HD void operator()(int64_t i) const {
    const int64_t row = i / extra, e = i - row * extra;  // row = n·C + c
    y[row * width + offset + e] = v[row / nodes * extra + e];
  }
};

// Element i of channel n·E + e, over [C, N·E, 1]: node c = i / (N·E) of image n.
template <typename T>
struct NodeColumnTerms {
  const T* dy;
  int64_t batch, nodes, extra, width, offset;
  I2V_HD Sums<T, 1> operator()(int64_t i, int64_t channel) const {
    const int64_t c = i / (batch * extra), n = channel / extra, e = channel - n * extra;
    return {{dy[(n * nodes + c) * width + offset + e]}};
  }
};

}  // namespace i2v

// v [batch, extra] into the columns [offset, offset + extra) of y [batch, nodes, width].
I2V_DECLARE_FLOATING_KERNEL(void broadcast_to_nodes(const scalar_t* v, int64_t batch, int64_t nodes, int64_t extra,
                                                    int64_t width, int64_t offset, scalar_t* y))
// dv [batch, extra] = the sum over the nodes of the columns [offset, offset + extra) of dy.
I2V_DECLARE_FLOATING_KERNEL(void sum_over_nodes(const scalar_t* dy, int64_t batch, int64_t nodes, int64_t extra,
                                                int64_t width, int64_t offset, scalar_t* dv))
