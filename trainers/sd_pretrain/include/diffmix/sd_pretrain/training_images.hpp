// The training images, decoded once and kept in memory at the training resolution (Fashion-MNIST's 60 000 training
// images take 60 MB as 32 × 32 gray bytes), drawn as batches by index. Labels are not kept: pretraining learns the
// images alone.
//
//   auto images = TrainingImages::load(*dataset, 32);
//   at::Tensor batch = images.batch(indices);   // float [B, 3, 32, 32] in [-1, 1]
#pragma once

#include "diffmix/data/dataset.hpp"

#include <ATen/ATen.h>

#include <cstdint>

namespace dmx::pretrain {

class TrainingImages {
 public:
  // Each image is resized (bilinear; antialiased when shrinking) so that its short side is `resolution`, then
  // center-cropped to a square. Gray images stay one channel here and become RGB by repetition in batch().
  // Checks for cancellation while decoding.
  static TrainingImages load(const data::Dataset& dataset, int64_t resolution);

  int64_t size() const { return pixels_.size(0); }
  int64_t resolution() const { return pixels_.size(2); }
  // float [B, 3, R, R] in [-1, 1] (SD's VAE input range) for int64 `indices` [B].
  at::Tensor batch(const at::Tensor& indices) const;

 private:
  at::Tensor pixels_;  // uint8 [N, C, R, R], C = 1 (gray) or 3
};

}  // namespace dmx::pretrain
