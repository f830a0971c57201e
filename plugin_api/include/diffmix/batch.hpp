// Batch: what flows from the loader through batch augmenters into the trainer.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace dmx {

// images: N×C×H×W float. labels: N×K float soft labels, each row a probability distribution. Labels become soft at
// the Mixer and stay soft, so CutMix, Mixup and Diff-Mix labels compose.
struct Batch {
  at::Tensor images;
  at::Tensor labels;
};

// Class indices (N, int64) as N×K one-hot float rows.
inline at::Tensor one_hot(const at::Tensor& classes, int64_t num_classes) {
  return at::one_hot(classes.to(at::kLong), num_classes).to(at::kFloat);
}

}  // namespace dmx
