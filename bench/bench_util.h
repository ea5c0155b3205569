// What the layer benchmarks share: a --device=, --batch=, --image= style flag parser that leaves
// Google Benchmark's own flags alone, and random tensors.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "nn/tensor.h"

namespace i2v::bench {

// Removes `--name=value` from argv and returns value, or `fallback` when absent.
std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& fallback);

// N(0, std) values of `shape` on `device`.
Tensor normal_tensor(const Shape& shape, Device device, std::mt19937_64& rng, double std = 1.0);

}  // namespace i2v::bench
