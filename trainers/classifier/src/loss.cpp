#include "diffmix/classifier/loss.hpp"

#include <c10/util/StringUtil.h>

#include "diffmix/error.hpp"

namespace dmx::classifier {

at::Tensor smooth_labels(const at::Tensor& labels, double smoothing) {
  if (smoothing < 0.0 || smoothing > 1.0)
    throw invalid_argument("label smoothing must be in [0, 1], got " + std::to_string(smoothing));
  if (labels.dim() != 2) throw shape_error("soft labels must be N×K, got " + c10::str(labels.sizes()));
  if (smoothing == 0.0) return labels;
  return labels * (1.0 - smoothing) + smoothing / static_cast<double>(labels.size(1));
}

at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2 || !logits.sizes().equals(labels.sizes()))
    throw shape_error("soft cross-entropy needs logits and labels of the same N×K shape, got logits " +
                      c10::str(logits.sizes()) + " and labels " + c10::str(labels.sizes()));
  return -(labels * at::log_softmax(logits, 1)).sum(1).mean();
}

}  // namespace dmx::classifier
