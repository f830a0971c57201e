#include "diffmix/classifier/loss.hpp"

#include <sstream>

#include "diffmix/error.hpp"

namespace dmx::classifier {
namespace {

std::string shape_text(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

}  // namespace

at::Tensor smooth_labels(const at::Tensor& labels, double smoothing) {
  if (smoothing < 0.0 || smoothing > 1.0)
    throw invalid_argument("label smoothing must be in [0, 1], got " + std::to_string(smoothing));
  if (labels.dim() != 2) throw shape_error("soft labels must be N×K, got " + shape_text(labels));
  if (smoothing == 0.0) return labels;
  return labels * (1.0 - smoothing) + smoothing / static_cast<double>(labels.size(1));
}

at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2 || !logits.sizes().equals(labels.sizes()))
    throw shape_error("soft cross-entropy needs logits and labels of the same N×K shape, got logits " +
                      shape_text(logits) + " and labels " + shape_text(labels));
  return -(labels * at::log_softmax(logits, 1)).sum(1).mean();
}

}  // namespace dmx::classifier
