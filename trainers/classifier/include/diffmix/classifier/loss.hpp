// Soft-target cross-entropy and label smoothing.
//
// Labels are soft (N×K rows that sum to 1) everywhere after the Mixer, so the loss is the cross-entropy against a
// distribution: −Σ_k y_k · log softmax(z)_k, averaged over the batch. Label smoothing ε has PyTorch's meaning: a
// label row y becomes (1 − ε)·y + ε/K. The paper's "confidence 0.9" is ε = 0.1.
#pragma once

#include <ATen/ATen.h>

namespace dmx::classifier {

// (1 − ε)·y + ε/K for soft labels y (N×K); ε = 0 returns the labels unchanged. ε outside [0, 1] is an error.
at::Tensor smooth_labels(const at::Tensor& labels, double smoothing);

// Mean over the batch of −Σ_k y_k log softmax(logits)_k. logits and labels are N×K; a shape mismatch is a shape
// error naming both shapes.
at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace dmx::classifier
