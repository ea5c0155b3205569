#include "index/hashing.h"

#include "base/error.h"

namespace i2v {

std::vector<uint8_t> pack_signs(const Tensor& activations) {
  I2V_CHECK(activations.dim() == 2 && activations.size(1) % 8 == 0, "pack_signs: [N, bits] with bits a multiple of 8, got {}",
            shape_str(activations.shape()));
  const std::vector<float> values = activations.to_vector<float>();
  std::vector<uint8_t> packed(values.size() / 8, 0);
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] > 0.0f) packed[i / 8] |= uint8_t(0x80u >> (i % 8));
  return packed;
}

}  // namespace i2v
