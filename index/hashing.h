// Binary codes from a layer's activations: bit j of a row is 1 when activation j is positive
// (for i2v-feature's encode1: when its sigmoid is above 0.5). Packed 8 bits a byte, the first
// bit in the most significant position — numpy.packbits' order, the index's on-disk order.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/tensor.h"

namespace i2v {

// activations [N, B] (f32, cpu), B a multiple of 8 -> N × B/8 bytes.
std::vector<uint8_t> pack_signs(const Tensor& activations);

}  // namespace i2v
