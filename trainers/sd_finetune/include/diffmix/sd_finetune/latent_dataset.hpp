// The training set as VAE posteriors, encoded once and reused at every step (the VAE is frozen, so encoding an image
// again would give the same distribution):
//
//   auto latents = LatentDataset::encode(dataset, vae, 512, seed);
//   at::Tensor x0 = latents.sample(indices, flips, noise) ;   // scaling_factor × (mean + std × noise)
//
// Each image goes through Resize(short side) → RandomCrop(resolution) → [-1, 1]; the crop is drawn once per image
// from the seed. Both the image and its mirror image are encoded, so the random flip stays a per-step choice.
#pragma once

#include "diffmix/data/dataset.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace dmx::finetune {

class LatentDataset {
 public:
  // Encodes every image of `dataset` with `vae` in batches of `batch_size`; checks for cancellation between batches.
  static LatentDataset encode(const data::Dataset& dataset, const sd::AutoencoderKL& vae, int64_t resolution,
                              uint64_t seed, int64_t batch_size = 8);

  int64_t size() const { return mean_.size(0); }
  const std::vector<int64_t>& labels() const { return labels_; }
  // The latent shape of one image: {channels, h, w}.
  std::vector<int64_t> latent_shape() const;

  // Scaled latents [B, C, h, w] on `device`: scaling_factor × (mean + std × noise) of image indices[b], mirrored where
  // flips[b] is 1. indices, flips: int64 [B]; noise [B, C, h, w].
  at::Tensor sample(const at::Tensor& indices, const at::Tensor& flips, const at::Tensor& noise,
                    at::Device device) const;

 private:
  at::Tensor mean_, std_;  // [N, 2, C, h, w] float32 on the CPU; index 1 of dim 1 is the mirrored image
  std::vector<int64_t> labels_;
  double scaling_factor_ = 1.0;
};

}  // namespace dmx::finetune
