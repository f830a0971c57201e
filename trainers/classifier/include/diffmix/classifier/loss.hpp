// Soft-target cross-entropy and label smoothing.
//
// Labels are soft (N×K rows that sum to 1) everywhere after the Mixer, so the loss is the cross-entropy against a
// distribution: −Σ_k y_k · log softmax(z)_k, averaged over the batch. Label smoothing with confidence c (0.9 in the
// paper) turns a label row y into c·y + (1 − c)/K, which for a one-hot row is torchvision's label_smoothing = 1 − c.
#pragma once

#include <ATen/ATen.h>

namespace dmx::classifier {

// c·y + (1 − c)/K for soft labels y (N×K). confidence = 1 returns the labels unchanged.
at::Tensor smooth_labels(const at::Tensor& labels, double confidence);

// Mean over the batch of −Σ_k y_k log softmax(logits)_k. logits and labels are N×K; a shape mismatch is a shape
// error naming both shapes.
at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace dmx::classifier
