// How far apart two weight files are, for tests that expect two ways of training to reach the same weights.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "diffmix/io/safetensors.hpp"

namespace dmx::test {

// The largest ‖a − b‖ / ‖a‖ over the tensors of two safetensors files, which must hold the same names.
inline double largest_relative_difference(const std::string& a_path, const std::string& b_path) {
  const auto a = io::SafetensorsFile::open(a_path);
  const auto b = io::SafetensorsFile::open(b_path);
  EXPECT_EQ(a.names(), b.names()) << a_path << " and " << b_path;
  double largest = 0;
  for (const auto& name : a.names()) {
    const at::Tensor x = a.tensor(name).to(at::kDouble), y = b.tensor(name).to(at::kDouble);
    const double scale = std::max(x.norm().item<double>(), 1e-12);
    largest = std::max(largest, (x - y).norm().item<double>() / scale);
  }
  return largest;
}

}  // namespace dmx::test
