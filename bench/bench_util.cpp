#include "bench/bench_util.h"

#include <cstring>
#include <vector>

namespace i2v::bench {

std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  std::string value = fallback;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) value = argv[i] + prefix.size();
    else argv[kept++] = argv[i];
  }
  argc = kept;
  return value;
}

Tensor normal_tensor(const Shape& shape, Device device, std::mt19937_64& rng, double std) {
  std::normal_distribution<float> normal(0.0f, float(std));
  std::vector<float> values(size_t(shape_numel(shape)));
  for (float& v : values) v = normal(rng);
  return Tensor::from_vector(values, shape, device);
}

}  // namespace i2v::bench
