// How close two tensors are, as one number comparable across scales.
#pragma once

#include <ATen/ATen.h>

namespace dmx::test {

// max|actual - expected| / max|expected|, computed in double (the plain difference when `expected` is all zeros).
inline double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const auto a = actual.to(at::kDouble);
  const auto e = expected.to(at::kDouble);
  const double denom = e.abs().max().item<double>();
  const double diff = (a - e).abs().max().item<double>();
  return denom == 0.0 ? diff : diff / denom;
}

}  // namespace dmx::test
