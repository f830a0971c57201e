// What the host checks in tensors a plugin hands back, shared by the batch augmenter and sample source wrappers.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace dmx {

// "Float [64, 3, 32, 32] on cpu": a tensor's type, shape and device, for messages.
inline std::string describe_tensor(const at::Tensor& tensor) {
  std::string text = std::string(at::toString(tensor.scalar_type())) + " [";
  for (int64_t d = 0; d < tensor.dim(); ++d) text += (d ? ", " : "") + std::to_string(tensor.size(d));
  return text + "] on " + tensor.device().str();
}

// How far `labels` (one distribution per row of its last dimension) is from being soft labels: the largest of
// |row sum - 1| and of -entry. One reduction and one read back, so a GPU waits once.
inline double distribution_error(const at::Tensor& labels) {
  const at::Tensor off_sum = (labels.sum(-1, false, at::kDouble) - 1.0).abs().max();
  const at::Tensor negative = (-labels.min()).to(at::kDouble).clamp_min(0.0);
  return at::maximum(off_sum, negative).item<double>();
}

// Soft labels may be off 1 by float rounding, no more.
constexpr double kDistributionTolerance = 1e-3;

}  // namespace dmx
